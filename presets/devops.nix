# DevOps: kubectl, Terraform, the AWS CLI, the Docker client, yq and HTTPie
{ pkgs }:
with pkgs; [
  kubectl
  terraform
  awscli2
  docker-client
  yq-go
  httpie
]
