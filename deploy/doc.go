// Package deploy holds the AWS deployment of stocklake; it has no Go API.
//
//   - aws/lake.yaml: CloudFormation for the S3 lake bucket, the release
//     bucket the nodes boot from (read-only for them), the Glue database, an
//     optional AWS Glue Crawler and the Athena workgroup.
//   - aws/pipeline.yaml: CloudFormation for the VPC, the EC2 nodes running
//     Apache Kafka (KRaft) and the stocklake services, or Amazon MSK, and the
//     least-privilege instance role.
//   - aws/stocklake-aws.yaml: the AWS profile as a --config file.
//   - aws/publish: builds stocklake and uploads the release the nodes fetch.
//   - stocklake-node: what a node runs at boot; writes the profile, the
//     per-service settings and Kafka's configuration, and enables the units.
//   - systemd/: the unit files.
//
// The tests render every node's files with stocklake-node from the
// template's own UserData and check that each unit runs a stocklake
// subcommand whose flags (from the command line and the environment files)
// parse; security_test.go holds the templates to docs/security.md (no
// write access to the release, no ingress from everywhere, IMDSv2,
// encryption, versioning, authenticated Kafka, HTTPS dashboard), and
// TestSelfRunKafkaSASLIntegration runs Apache Kafka with a node's SASL_SSL
// configuration. docs/aws.md walks through a deployment.
package deploy
