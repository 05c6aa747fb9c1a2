#!/usr/bin/env bash
# The documented procedure (the EKS user guide, "Windows support": enable control-plane support)
# for ONE cluster, with the AWS CLI and kubectl, as a user would type it:
#   cli_enable.sh CLUSTER REGION ROLE_NAME KUBECONFIG
# tests/perf/bench_enable.py runs it once per cluster, one after the other or with xargs -P.
set -euo pipefail
cluster="$1" region="$2" role="$3" kubeconfig="$4"
policy="arn:aws:iam::aws:policy/AmazonEKSVPCResourceController"

# 1. the AmazonEKSVPCResourceController policy on the cluster role (the CLI pages for us)
attached="$(aws iam list-attached-role-policies --role-name "${role}" \
  --query "AttachedPolicies[?PolicyArn=='${policy}'].PolicyArn" --output text)"
if [ -z "${attached}" ] || [ "${attached}" = "None" ]; then
  aws iam attach-role-policy --role-name "${role}" --policy-arn "${policy}"
fi

# 2. a kubeconfig for the cluster (its user runs `aws eks get-token`), then the ConfigMap
aws eks update-kubeconfig --region "${region}" --name "${cluster}" --kubeconfig "${kubeconfig}" >/dev/null
kubectl --kubeconfig "${kubeconfig}" patch configmap/amazon-vpc-cni -n kube-system \
  --type merge -p '{"data":{"enable-windows-ipam":"true"}}'
