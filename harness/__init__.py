"""The local Kubernetes control plane: build (build.sh) and run (runner.py)."""
