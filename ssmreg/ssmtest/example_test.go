package ssmtest_test

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/faultkit/faultkit/ssmreg/ssmtest"
)

// Point the real SDK client at the fake endpoint and inspect what it got.
func ExampleNewServer() {
	srv := ssmtest.NewServer(&ssmtest.Options{Credentials: map[string]string{"AKID": "SECRET"}})
	defer srv.Close()

	cfg := aws.Config{Region: "us-west-2", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")}
	client := ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = aws.String(srv.URL()) })
	_, err := client.CreateActivation(context.Background(), &ssm.CreateActivationInput{
		IamRole: aws.String("ecsFisRole"),
		Tags:    []types.Tag{{Key: aws.String("FAULT_INJECTION_SIDECAR"), Value: aws.String("true")}},
	})
	fmt.Println(err)
	for _, c := range srv.Calls() {
		fmt.Println(c.Operation, c.Signed, c.Region)
	}
	a := srv.Activations()[0]
	fmt.Println(a.IamRole, a.Tags)
	// Output:
	// <nil>
	// CreateActivation true us-west-2
	// ecsFisRole [{FAULT_INJECTION_SIDECAR true}]
}
