"""`python -m deploy`: provision or run the local stack."""

import sys

from deploy.cli import main

sys.exit(main())
