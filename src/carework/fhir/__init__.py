"""The plan as FHIR R4 resources for EHR integration: ``mapping`` (pure) and ``router``."""
