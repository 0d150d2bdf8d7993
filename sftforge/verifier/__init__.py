"""The verifier: calibrated yes/no checks of a question-answer pair against its source."""
