"""The web console: static files served at `/`, calling the public API with the user's token.

Plain HTML, CSS and ES modules, no build step: what the browser runs is what is in this
folder. Every console response carries a strict Content-Security-Policy (scripts and styles
from this origin only, no inline script, no plugin, no framing); the only other origin the
page may talk to is the OpenID provider's, for discovery and the token exchange.
"""
