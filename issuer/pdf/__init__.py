"""The certificate as a PDF: fonts, the document's content, rendering, and
rendering a whole batch."""
