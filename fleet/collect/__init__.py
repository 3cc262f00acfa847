"""Collection: the async crawler and its transports."""
