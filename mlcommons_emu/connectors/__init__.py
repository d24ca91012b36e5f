"""connectors layer."""
