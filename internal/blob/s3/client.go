package s3

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// ClientConfig says how to reach an S3 service.
type ClientConfig struct {
	// Endpoint is the service's URL for S3-compatible servers (http://127.0.0.1:39601); empty
	// means AWS.
	Endpoint string
	// Region is the bucket's region; empty takes it from the environment (AWS_REGION) or the
	// shared configuration, and falls back to us-east-1.
	Region string
	// PathStyle addresses buckets as endpoint/bucket/key rather than bucket.endpoint/key, as
	// most S3-compatible servers want.
	PathStyle bool
	// AccessKey and SecretKey are static credentials; when empty the SDK's default chain is used
	// (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, AWS_PROFILE and the shared
	// files, web identity (EKS service accounts), ECS and EC2 instance roles).
	AccessKey, SecretKey string
}

// NewClient returns an S3 client for cc. Credentials are resolved lazily, at the first request.
func NewClient(ctx context.Context, cc ClientConfig) (*awss3.Client, error) {
	opts := []func(*config.LoadOptions) error{}
	if cc.Region != "" {
		opts = append(opts, config.WithRegion(cc.Region))
	}
	if cc.AccessKey != "" || cc.SecretKey != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cc.AccessKey, cc.SecretKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3 client: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return awss3.NewFromConfig(cfg, func(o *awss3.Options) {
		if cc.Endpoint != "" {
			o.BaseEndpoint = aws.String(cc.Endpoint)
		}
		o.UsePathStyle = cc.PathStyle
	}), nil
}
