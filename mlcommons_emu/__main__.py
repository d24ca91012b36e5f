"""``python -m mlcommons_emu serve``."""
import sys

from mlcommons_emu.cli import main

sys.exit(main())
