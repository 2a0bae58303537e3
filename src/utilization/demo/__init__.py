"""The built-in synthetic agency (`agency`: generated, deterministic, no real people) and the
main job that runs the product on it (`job`: what `make demo` runs).
"""

from utilization.demo.agency import generate, write_demo

__all__ = ["generate", "write_demo"]
