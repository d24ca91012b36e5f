"""mlcommons_emu."""
