"""Today's five dial-plan engines (before issue 10), kept only as the bench's baseline."""
