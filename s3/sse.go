package s3

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// The SDK has one input struct per operation, each with its own copy of the
// encryption fields, so each gets its own small setter. Every request that
// carries object data or reads an object sends the SSE-C key.

const sseCAlgorithm = "AES256"

// sseDest returns the encryption headers of a write: the mode, the KMS key.
func (s *drv) sseDest() (types.ServerSideEncryption, *string) {
	switch s.set.SSE.Mode {
	case SSES3:
		return types.ServerSideEncryptionAes256, nil
	case SSEKMS:
		var id *string
		if s.set.SSE.KMSKeyID != "" {
			id = aws.String(s.set.SSE.KMSKeyID)
		}
		return types.ServerSideEncryptionAwsKms, id
	}
	return "", nil
}

func (s *drv) ssePut(in *s3.PutObjectInput) {
	in.ServerSideEncryption, in.SSEKMSKeyId = s.sseDest()
	if c := s.set.sseC; c != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String(sseCAlgorithm), aws.String(c.key), aws.String(c.keyMD5)
	}
}

func (s *drv) sseCreate(in *s3.CreateMultipartUploadInput) {
	in.ServerSideEncryption, in.SSEKMSKeyId = s.sseDest()
	if c := s.set.sseC; c != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String(sseCAlgorithm), aws.String(c.key), aws.String(c.keyMD5)
	}
}

func (s *drv) ssePart(in *s3.UploadPartInput) {
	if c := s.set.sseC; c != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String(sseCAlgorithm), aws.String(c.key), aws.String(c.keyMD5)
	}
}

func (s *drv) sseComplete(in *s3.CompleteMultipartUploadInput) {
	if c := s.set.sseC; c != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String(sseCAlgorithm), aws.String(c.key), aws.String(c.keyMD5)
	}
}

func (s *drv) sseCGet(in *s3.GetObjectInput) {
	if c := s.set.sseC; c != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String(sseCAlgorithm), aws.String(c.key), aws.String(c.keyMD5)
	}
}

func (s *drv) sseCHead(in *s3.HeadObjectInput) {
	if c := s.set.sseC; c != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String(sseCAlgorithm), aws.String(c.key), aws.String(c.keyMD5)
	}
}

// sseCopy sets both the destination's encryption and the source's SSE-C
// key: a copy must decrypt the source and encrypt the destination.
func (s *drv) sseCopy(in *s3.CopyObjectInput) {
	in.ServerSideEncryption, in.SSEKMSKeyId = s.sseDest()
	if c := s.set.sseC; c != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String(sseCAlgorithm), aws.String(c.key), aws.String(c.keyMD5)
		in.CopySourceSSECustomerAlgorithm, in.CopySourceSSECustomerKey, in.CopySourceSSECustomerKeyMD5 = aws.String(sseCAlgorithm), aws.String(c.key), aws.String(c.keyMD5)
	}
}

func (s *drv) ssePartCopy(in *s3.UploadPartCopyInput) {
	if c := s.set.sseC; c != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String(sseCAlgorithm), aws.String(c.key), aws.String(c.keyMD5)
		in.CopySourceSSECustomerAlgorithm, in.CopySourceSSECustomerKey, in.CopySourceSSECustomerKeyMD5 = aws.String(sseCAlgorithm), aws.String(c.key), aws.String(c.keyMD5)
	}
}
