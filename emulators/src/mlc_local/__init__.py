"""The whole connector on one machine: both emulators, the three services, one command.

Used by the README's run command (the demo), the end-to-end tests and the benchmarks, so all
three exercise the same wiring: the services run as their real console scripts under gunicorn,
configured only through ``MLC_*`` variables and the encrypted secrets file, and reach the
emulators over real HTTP(S). Dev and test only: never part of a service image.
"""
