package ssmtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/faultkit/faultkit/ssmreg/ssmtest"
)

func client(srv *ssmtest.Server, region, key, secret string) *ssm.Client {
	cfg := aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider(key, secret, "")}
	return ssm.NewFromConfig(cfg, func(o *ssm.Options) {
		o.BaseEndpoint = aws.String(srv.URL())
		o.RetryMaxAttempts = 1
	})
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestSignedSDKCallsSucceed(t *testing.T) {
	srv := ssmtest.NewServer(&ssmtest.Options{Credentials: map[string]string{"AKID": "SECRET"}, Region: "eu-west-1"})
	defer srv.Close()
	c := client(srv, "eu-west-1", "AKID", "SECRET")
	ctx := context.Background()
	out, err := c.CreateActivation(ctx, &ssm.CreateActivationInput{
		IamRole: aws.String("role"),
		Tags:    []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}},
	})
	if err != nil {
		t.Fatalf("CreateActivation: %v", err)
	}
	if len(aws.ToString(out.ActivationCode)) != 20 || len(aws.ToString(out.ActivationId)) != 36 {
		t.Errorf("activation = %q / %q", aws.ToString(out.ActivationCode), aws.ToString(out.ActivationId))
	}
	calls := srv.Calls()
	if len(calls) != 1 || !calls[0].Signed || calls[0].Region != "eu-west-1" || calls[0].AccessKeyID != "AKID" {
		t.Fatalf("calls = %+v", calls)
	}
	if _, err := c.DeleteActivation(ctx, &ssm.DeleteActivationInput{ActivationId: out.ActivationId}); err != nil {
		t.Fatalf("DeleteActivation: %v", err)
	}
	// Deleting twice is an SSM error, typed by the SDK from the JSON shape.
	_, err = c.DeleteActivation(ctx, &ssm.DeleteActivationInput{ActivationId: out.ActivationId})
	var invalid *types.InvalidActivationId
	if !errors.As(err, &invalid) {
		t.Errorf("second DeleteActivation = %v, want *types.InvalidActivationId", err)
	}
	_, err = c.DeregisterManagedInstance(ctx, &ssm.DeregisterManagedInstanceInput{InstanceId: aws.String("mi-0123456789abcdef0")})
	if apiCode(err) != "InvalidInstanceId" {
		t.Errorf("DeregisterManagedInstance of an unknown ID = %v", err)
	}
}

func TestSignatureChecks(t *testing.T) {
	srv := ssmtest.NewServer(&ssmtest.Options{Credentials: map[string]string{"AKID": "SECRET"}, Region: "eu-west-1"})
	defer srv.Close()
	in := &ssm.CreateActivationInput{IamRole: aws.String("role")}
	ctx := context.Background()

	_, err := client(srv, "eu-west-1", "AKID", "WRONG").CreateActivation(ctx, in)
	if apiCode(err) != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret: %v", err)
	}
	_, err = client(srv, "eu-west-1", "OTHER", "SECRET").CreateActivation(ctx, in)
	if apiCode(err) != "UnrecognizedClientException" {
		t.Errorf("unknown key: %v", err)
	}
	_, err = client(srv, "us-east-1", "AKID", "SECRET").CreateActivation(ctx, in)
	if apiCode(err) != "InvalidSignatureException" {
		t.Errorf("wrong region: %v", err)
	}
	// Anonymous credentials: the SDK sends no Authorization header.
	anon := ssm.NewFromConfig(aws.Config{Region: "eu-west-1", Credentials: aws.AnonymousCredentials{}}, func(o *ssm.Options) {
		o.BaseEndpoint = aws.String(srv.URL())
	})
	_, err = anon.CreateActivation(ctx, in)
	if apiCode(err) != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned: %v", err)
	}
	if n := len(srv.Activations()); n != 0 {
		t.Errorf("%d activations created by rejected requests", n)
	}
	for _, c := range srv.Calls() {
		if c.Signed || c.ErrorCode == "" {
			t.Errorf("call %+v accepted", c)
		}
	}
}

func TestRawProtocol(t *testing.T) {
	srv := ssmtest.NewServer(nil)
	defer srv.Close()
	post := func(target, auth, body string) (*http.Response, map[string]string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL()+"/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", target)
		req.Header.Set("X-Amz-Date", "20260101T000000Z")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp, m
	}
	resp, m := post("AmazonSSM.CreateActivation", "", `{"IamRole":"r"}`)
	if resp.StatusCode != 400 || m["__type"] != "MissingAuthenticationTokenException" || resp.Header.Get("X-Amzn-ErrorType") != m["__type"] {
		t.Errorf("unsigned: %d %v", resp.StatusCode, m)
	}
	resp, m = post("AmazonSSM.CreateActivation", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature="+strings.Repeat("a", 64), `{"IamRole":"r"}`)
	if resp.StatusCode != 400 || m["__type"] != "IncompleteSignatureException" || !strings.Contains(m["message"], "ssm") {
		t.Errorf("wrong service: %d %v", resp.StatusCode, m)
	}
	resp, m = post("AmazonSSM.CreateActivation", "Bearer xyz", `{"IamRole":"r"}`)
	if resp.StatusCode != 400 || m["__type"] != "IncompleteSignatureException" {
		t.Errorf("malformed: %d %v", resp.StatusCode, m)
	}
	// Without Credentials, a well-formed header is enough.
	good := "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/ssm/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("b", 64)
	resp, m = post("AmazonSSM.CreateActivation", good, `{"IamRole":"r"}`)
	if resp.StatusCode != 200 || m["ActivationId"] == "" || m["ActivationCode"] == "" {
		t.Fatalf("well-formed: %d %v", resp.StatusCode, m)
	}
	// RegisterManagedInstance is anonymous but must match code and id.
	resp, bad := post("AmazonSSM.RegisterManagedInstance", "", `{"ActivationId":"`+m["ActivationId"]+`","ActivationCode":"nope","PublicKey":"k"}`)
	if resp.StatusCode != 400 || bad["__type"] != "InvalidActivation" {
		t.Errorf("wrong code: %d %v", resp.StatusCode, bad)
	}
	body, _ := json.Marshal(map[string]string{"ActivationId": m["ActivationId"], "ActivationCode": m["ActivationCode"], "PublicKey": "k"})
	resp, ok := post("AmazonSSM.RegisterManagedInstance", "", string(body))
	if resp.StatusCode != 200 || !strings.HasPrefix(ok["InstanceId"], "mi-") || len(ok["InstanceId"]) != 20 {
		t.Errorf("register: %d %v", resp.StatusCode, ok)
	}
	// The registration limit (default 1) is enforced.
	if resp, again := post("AmazonSSM.RegisterManagedInstance", "", string(body)); resp.StatusCode != 400 || again["__type"] != "InvalidActivation" {
		t.Errorf("second registration: %d %v", resp.StatusCode, again)
	}
	if resp, u := post("AmazonSSM.SendCommand", good, `{}`); resp.StatusCode != 400 || u["__type"] != "UnknownOperationException" {
		t.Errorf("unknown op: %d %v", resp.StatusCode, u)
	}
}
