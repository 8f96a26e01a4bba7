"""Geo: is the applicant where they say, and who else was there (the LBS and POI checks).

Layout, one job per module:

* ``inputs`` / ``client_ip`` / ``datum`` - the session's geo document parsed into typed values
  (never raising), the client IP behind trusted proxies, GCJ-02 / BD-09 -> WGS-84;
* ``ipdb`` / ``timezones`` / ``china_admin`` / ``poi`` / ``store`` - the data sets, each loaded
  once per process: MaxMind DBs, time-zone polygons, Chinese county seats and names, POIs, and
  the SQLite history of earlier sessions;
* ``checks/`` - the individual checks, each returning typed evidence with its numbers;
* ``outcome`` - evidence -> geo outcome (pass / review / reject with reasons);
* ``checker`` - the stage (:class:`~verification.geo.checker.GeoChecker`), ``analyzer`` - the
  stage inside a verification session, ``config`` - paths and thresholds.
"""
