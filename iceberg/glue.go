package iceberg

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsglue "github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/internal/awsconfig"

	ice "github.com/apache/iceberg-go"
	gluecat "github.com/apache/iceberg-go/catalog/glue"
	iceio "github.com/apache/iceberg-go/io"
)

// GlueConfig says which AWS Glue Data Catalog holds the Iceberg tables (the
// settings of a glue:// catalog URL, as package glue reads them).
type GlueConfig struct {
	// Region of the catalog; default from AWS_REGION or the AWS config
	// files, or us-east-1 with an Endpoint.
	Region string
	// Endpoint overrides the Glue endpoint, e.g. http://127.0.0.1:5000 for
	// moto (scripts/glue); default AWS_ENDPOINT_URL_GLUE, else AWS Glue in
	// Region. It applies to Glue only, never to the warehouse's S3.
	Endpoint string
	// CatalogID is the AWS account that owns the catalog; default the
	// caller's.
	CatalogID string
	// AccessKey, SecretKey and SessionToken are static credentials for
	// Glue; default the AWS credential chain.
	AccessKey, SecretKey, SessionToken string
	// MaxRetries is how often a failed Glue request is retried; default 5,
	// negative for none.
	MaxRetries int
}

// defaultGlueMaxRetries is GlueConfig.MaxRetries' default, as package glue's.
const defaultGlueMaxRetries = 5

// openGlue opens the Iceberg catalog in AWS Glue with iceberg-go's Glue
// catalog: a table is a Glue table of type EXTERNAL_TABLE with parameters
// table_type=ICEBERG, metadata_location and previous_metadata_location,
// and Iceberg columns, as Athena, Trino and Spark expect. A commit is
// Glue's UpdateTable with the VersionId the commit read (a lost race is
// ConcurrentModificationException, retried by Commit) and skips archiving
// a table version (glue.skip-archive, iceberg-go's default), so a commit a
// second stays within Glue's table-version quota.
func openGlue(ctx context.Context, cfg Config, warehouse string, props ice.Properties) (*Catalog, error) {
	g := cfg.Glue
	awsCfg, err := awsconfig.Load(ctx, awsconfig.Options{Service: "glue", Region: g.Region, Endpoint: g.Endpoint,
		AccessKey: g.AccessKey, SecretKey: g.SecretKey, SessionToken: g.SessionToken,
		MaxRetries: g.MaxRetries, DefaultMaxRetries: defaultGlueMaxRetries, NoRetryBudget: true})
	if err != nil {
		return nil, fmt.Errorf("iceberg: %w", err)
	}
	if g.Endpoint != "" {
		if awsCfg.Region == "" {
			awsCfg.Region = "us-east-1"
		}
		// iceberg-go's S3 file IO starts from this configuration too, so
		// the endpoint is given for Glue only (S3 gets S3Endpoint).
		endpoint := g.Endpoint
		//nolint:staticcheck // the only per-service endpoint an aws.Config carries
		awsCfg.EndpointResolverWithOptions = aws.EndpointResolverWithOptionsFunc(func(service, region string, _ ...any) (aws.Endpoint, error) {
			if service == awsglue.ServiceID {
				return aws.Endpoint{URL: endpoint, SigningRegion: region}, nil
			}
			return aws.Endpoint{}, &aws.EndpointNotFoundError{}
		})
	}
	if awsCfg.Region == "" {
		return nil, fmt.Errorf("iceberg: no AWS region for the Glue catalog: write it in the catalog URL (glue://us-east-1) or set AWS_REGION: %w", stocklake.ErrConfig)
	}
	if _, ok := props[iceio.S3Region]; ok && cfg.S3Region == "" {
		// The lake's bucket is in the catalog's region unless told.
		props[iceio.S3Region] = awsCfg.Region
	}
	if g.CatalogID != "" {
		props[gluecat.CatalogIdKey] = g.CatalogID
	}
	cat, err := gluecat.NewCatalog(gluecat.WithAwsConfig(awsCfg), gluecat.WithAwsProperties(gluecat.AwsProperties(props)))
	if err != nil {
		return nil, fail("opening the Glue catalog", err)
	}
	client := awsglue.NewFromConfig(awsCfg)
	var catalogID *string
	if g.CatalogID != "" {
		catalogID = aws.String(g.CatalogID)
	}
	name := cfg.Name
	if name == "" {
		name = DefaultCatalogName
	}
	c := &Catalog{cat: cat, name: name, warehouse: warehouse, props: props, lowerNames: true}
	// One GetTable tells whether the cached table is still current.
	c.locate = func(ctx context.Context, database, table string) (string, error) {
		out, err := client.GetTable(ctx, &awsglue.GetTableInput{CatalogId: catalogID, DatabaseName: aws.String(database), Name: aws.String(table)})
		if err != nil {
			var nf *types.EntityNotFoundException
			if errors.As(err, &nf) {
				return "", fmt.Errorf("iceberg: table %s.%s is not in Glue: %w", database, table, stocklake.ErrNotFound)
			}
			return "", err
		}
		if out.Table == nil {
			return "", fmt.Errorf("iceberg: table %s.%s: empty answer from Glue: %w", database, table, stocklake.ErrNotFound)
		}
		return out.Table.Parameters[stocklake.ParamMetadataLocation], nil
	}
	return c, nil
}
