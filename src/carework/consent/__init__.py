"""Consent: what health information the patient lets NAV see.

The patient grants and revokes it; a clinician may record a consent given in person. NAV only
reads which scopes are active. Whether a consent is active is decided in SQL against the
database clock at each request, so a revocation or an expiry holds from the very next request.
"""
