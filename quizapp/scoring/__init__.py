"""The scoring engine: instruments as data, scores with their error bands, and calibration.

``instrument`` loads and validates a questionnaire file and its norms; ``engine`` scores
answers (reverse keying, prorating, SEM, 90% band, percentile, closest pattern from
``patterns``); ``reliability`` holds the psychometric formulas; ``calibration`` derives norms
and the quick-form choice from the ECR data; ``batch`` scores a CSV. Plain Python and numpy:
no Flask, SQLAlchemy, scikit-learn or WeasyPrint (a test and the import contracts keep it so).
"""
