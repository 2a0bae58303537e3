"""Units utilization reports for home- and community-based-services agencies."""

from utilization.dataset import Dataset
from utilization.pipeline import load
from utilization.settings import Settings

__all__ = ["Dataset", "Settings", "load"]
__version__ = "0.1.0"
