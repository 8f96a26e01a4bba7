"""The reviewer console: cookie login, the review queue, the session view, decisions.

``routes.router`` is the one router the app includes; ``auth.console_user(action)`` is the
dependency every console route (this package's and live watch's) authorises with.
"""
