"""Units utilization reports for home- and community-based-services agencies.

`utilization.load(source)` reads, validates and matches a data source; `views.build_view`
makes a view's figures; `export.write` serializes them. The version comes from the
package metadata (pyproject.toml is the one place it is written).
"""

from importlib.metadata import PackageNotFoundError, version

from utilization.dataset import Dataset
from utilization.pipeline import load
from utilization.settings import Settings

try:
    __version__ = version("utilization")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["Dataset", "Settings", "__version__", "load"]
