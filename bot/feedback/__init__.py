"""Member feedback on answers: fit ratings."""
