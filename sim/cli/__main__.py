"""``python -m agentville.sim.cli``: the same as the ``agentville`` command."""

import sys

from . import main

sys.exit(main())
