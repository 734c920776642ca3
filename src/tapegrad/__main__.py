"""``python -m tapegrad ...`` is the same as the ``tapegrad`` command."""

import sys

from .cli.main import main

sys.exit(main())
