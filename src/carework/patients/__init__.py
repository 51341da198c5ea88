"""Patients, identified by a Norwegian national id number that never leaves the body of a request."""
