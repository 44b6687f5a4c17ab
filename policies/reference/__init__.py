"""The TrialBench reference VLA: a small conv + instruction + proprio policy trained by behaviour cloning
(with DAgger) on the cells' scripted experts, exported to ONNX. Training needs torch
(requirements-train.txt, `make reference-policy`); running it needs only onnxruntime (core.policy.onnx_runtime)."""
