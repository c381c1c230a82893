"""Security events and detections: sources behind `SecuritySource`, Sigma detection, webhooks.

The shared shapes live in `types` (`SecurityEvent`, `SecuritySignal`, `SecuritySource`,
`SignalSink`) and `entities` (who / where of one raw event); see docs/security-detection.md.
"""
