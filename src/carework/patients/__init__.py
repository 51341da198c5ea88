"""Patients, identified by a national id number that never leaves the body of a request."""
