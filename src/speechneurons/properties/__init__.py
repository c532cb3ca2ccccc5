"""properties stage."""
