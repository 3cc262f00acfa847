"""Vendor profiles: one folder per vendor family, each with ``profile.py`` exposing ``PROFILE``,
its ``samples/`` (real-format files with the expected parse beside each) and, for the lab,
``simulator.py`` exposing ``SIMULATOR`` (a ``fleet.lab.registry.PhoneSimulator`` or
``SbcSimulator``). Only the lab loads simulators; the profile registry never does."""
