"""The individual geo checks. Each is a function of the shared :class:`GeoFacts` that returns
typed evidence with its numbers in ``details``; none of them raises on bad input.

LBS (where the device really is): GPS presence and plausibility, IP location and anonymizers,
time zone, impossible travel, location clusters. POI (the declared business place): GPS vs the
declared point, the Chinese admin division vs the declared address, nearby POI categories.
"""
