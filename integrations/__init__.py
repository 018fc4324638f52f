"""One client per external system, the HTTP base they share, national crypto, and the simulators."""
