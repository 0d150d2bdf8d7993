"""sftforge: turn your own documents into a supervised fine-tuning dataset."""

__version__ = "0.1.0"
