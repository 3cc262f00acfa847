"""The simulated fleet: real HTTP(S) servers on 127.0.0.0/8, one address per device, speaking
each vendor's interface with its real auth scheme and file formats, with seeded faults."""
