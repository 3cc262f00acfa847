"""Collection: the async crawler (``crawler``) and its transports (``transport``: the interface
and the registry by name; ``http``, ``ssh``, ``netmiko_transport``; ``fake`` for tests).

Nothing is re-exported here: the inventory imports ``fleet.collect.options``, and an import of
the crawler from this file would bring the inventory back in half-loaded.
"""
