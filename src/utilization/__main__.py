"""`python -m utilization` runs the command line."""

from utilization.cli import main

raise SystemExit(main())
