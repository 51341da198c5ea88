"""The plan as a PDF (the patient's copy, and the care team's print), for the API and the pages."""

from carework.pdf.render import PDF_CONTENT, pdf_response

__all__ = ["PDF_CONTENT", "pdf_response"]
