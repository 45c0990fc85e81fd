"""The alarm: its dispatcher, its words, its part, the self-test, and its channels."""
