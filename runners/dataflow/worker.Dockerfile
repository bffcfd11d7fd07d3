# Worker (SDK harness) image for GPU stages on Dataflow: Beam's Python 3.11 SDK
# image with CUDA torch, transformers and, optionally, vLLM.
#
# Pass its tag as --sdk_container_image (required with --gpu_type). Beam and
# Python versions must equal the launcher's: apache-beam 2.77.0, Python 3.11.
# Dataflow installs the NVIDIA driver on the VM (install-nvidia-driver in the
# accelerator option) and mounts it into this container under /usr/local/nvidia;
# the CUDA runtime libraries come with torch's wheels.
#
# Build from the repository root:
#   docker build -f runners/dataflow/worker.Dockerfile -t REGION-docker.pkg.dev/PROJECT/REPO/toolrm-worker:TAG .
#   docker build -f runners/dataflow/worker.Dockerfile --build-arg VLLM_VERSION=0.33.0 -t ...:TAG-vllm .
#
# Alternative base: an NVIDIA CUDA image with Beam's boot entrypoint copied in:
#   FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04 (plus Python 3.11 and apache-beam[gcp]==2.77.0)
#   COPY --from=apache/beam_python3.11_sdk:2.77.0 /opt/apache/beam /opt/apache/beam
#   ENTRYPOINT ["/opt/apache/beam/boot"]
FROM apache/beam_python3.11_sdk:2.77.0

# torch's default Linux wheels on PyPI are CUDA 12 builds (the nvidia-* wheels
# are pulled in as dependencies). vLLM pins its own torch: when VLLM_VERSION is
# set, vLLM chooses torch and TORCH_VERSION is not used.
ARG TORCH_VERSION=2.13.0
ARG TRANSFORMERS_VERSION=5.24.0
ARG VLLM_VERSION=

RUN pip install --no-cache-dir --upgrade pip \
    && if [ -n "${VLLM_VERSION}" ]; then \
         pip install --no-cache-dir "vllm==${VLLM_VERSION}"; \
       else \
         pip install --no-cache-dir "torch==${TORCH_VERSION}"; \
       fi \
    && pip install --no-cache-dir "transformers==${TRANSFORMERS_VERSION}" "httpx==0.28.1"

# toolrm-beam and its pinned dependencies, so a worker's start-up install of the
# staged sdist (--setup_file) finds everything already there. toolrm_beam/ is
# the import package; models/ and data/ are its package data.
COPY setup.py README.md MANIFEST.in /opt/toolrm/
COPY toolrm_beam /opt/toolrm/toolrm_beam
COPY models /opt/toolrm/models
COPY data /opt/toolrm/data
COPY schemas /opt/toolrm/schemas
COPY transforms /opt/toolrm/transforms
COPY beam_pipelines /opt/toolrm/beam_pipelines
COPY runners /opt/toolrm/runners
RUN pip install --no-cache-dir /opt/toolrm \
    && cd / && python -c "import os, toolrm_beam.models; assert os.path.isdir(toolrm_beam.models.LITE_MODEL)" \
    && python -c "import apache_beam, torch, transformers; assert apache_beam.__version__ == '2.77.0', apache_beam.__version__; print('torch', torch.__version__, 'cuda', torch.version.cuda)"

ENV NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    LD_LIBRARY_PATH=/usr/local/nvidia/lib64:/usr/local/cuda/lib64 \
    PATH=/usr/local/nvidia/bin:${PATH} \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

# The base image's ENTRYPOINT (/opt/apache/beam/boot) starts the SDK harness; keep it.
