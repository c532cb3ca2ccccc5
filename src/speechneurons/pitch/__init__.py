"""pitch stage."""
