"""Report stage: all seeds of a run side by side.

Takes run directories (`metrics.csv`) and evaluation JSONs; writes one folder with curves
(mean and spread), a metrics table and links to the videos, as an HTML page.
"""
