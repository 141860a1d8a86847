package azure

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Error is an Azure failure explained in one sentence that names the
// resource, Azure's error code and the fix. Err is the full Azure error
// (request, status, body), shown by the CLI only with --debug.
type Error struct {
	// Resource is what dhub was working on, e.g. "managed cluster pangeoCluster".
	Resource string
	// Code is Azure's error code, e.g. QuotaExceeded.
	Code string
	// Sentence is the whole explanation, fix included.
	Sentence string
	// Err is the underlying error.
	Err error
}

// Error returns the one-sentence explanation.
func (e *Error) Error() string { return e.Sentence }

// Unwrap returns the full Azure error.
func (e *Error) Unwrap() error { return e.Err }

// Detail returns the full underlying error text, for --debug.
func (e *Error) Detail() string {
	if e.Err == nil {
		return ""
	}
	return e.Err.Error()
}

// armError is the body of an Azure Resource Manager error answer.
type armError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"details"`
}

// responseError returns the status, code and message of an Azure answer
// error, reading the body Azure sent; ok is false for other errors.
func responseError(err error) (status int, code, message string, ok bool) {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return 0, "", "", false
	}
	status, code = re.StatusCode, re.ErrorCode
	if re.RawResponse != nil {
		if body, rerr := runtime.Payload(re.RawResponse); rerr == nil && len(body) > 0 {
			var env struct {
				Error *armError `json:"error"`
				armError
			}
			if json.Unmarshal(body, &env) == nil {
				e := env.Error
				if e == nil {
					e = &env.armError
				}
				if code == "" {
					code = e.Code
				}
				message = e.Message
				// The useful part of a deployment failure is often one level down.
				if len(e.Details) == 1 && e.Details[0].Code != "" {
					code, message = e.Details[0].Code, e.Details[0].Message
				}
			}
		}
	}
	return status, code, message, true
}

// isNotFound reports whether err is Azure's 404 for a missing resource.
func isNotFound(err error) bool {
	status, _, _, ok := responseError(err)
	return ok && status == http.StatusNotFound
}

// isBusy reports whether err says another operation is running on the
// resource (409 OperationNotAllowed and its relatives), which passes by
// itself: dhub waits and tries again. A quota error that uses the same
// code is not busy.
func isBusy(err error) bool {
	status, code, msg, ok := responseError(err)
	if !ok || isQuota(code, msg) {
		return false
	}
	switch code {
	case "OperationNotAllowed", "AnotherOperationInProgress", "OperationPreempted", "EtagMismatch", "ResourceGroupBeingDeleted":
		return status == http.StatusConflict || status == http.StatusPreconditionFailed || code == "AnotherOperationInProgress"
	}
	return false
}

// linkRE matches the links Azure puts in its messages: their paths hold
// words such as "quotas-skus-regions" that say nothing about the error.
var linkRE = regexp.MustCompile(`https?://\S+`)

// words is an Azure message without its links, lower-cased, for matching.
func words(msg string) string {
	return strings.ToLower(linkRE.ReplaceAllString(msg, ""))
}

// isQuota reports whether Azure refused for lack of vCPU quota: a quota
// code, or quota in its message once the links are left out (Azure links
// its SKU help at aka.ms/aks/quotas-skus-regions, which is no quota error).
func isQuota(code, msg string) bool {
	return strings.Contains(strings.ToLower(code), "quota") || strings.Contains(words(msg), "quota")
}

// isSizeRefused reports whether Azure refused a VM size: not offered in
// the region or to the subscription ("not allowed in your subscription",
// "not available", "not supported"), by code or by message.
func isSizeRefused(code, msg string) bool {
	switch code {
	case "SkuNotAvailable", "VMSizeNotSupported", "InvalidVMSize", "VMSizeNotAllowed":
		return true
	}
	w := words(msg)
	if !strings.Contains(w, "vm size") && !strings.Contains(w, "requested size") {
		return false
	}
	return strings.Contains(w, "not allowed") || strings.Contains(w, "not available") || strings.Contains(w, "not supported")
}

var (
	quotaFamilyRE   = regexp.MustCompile(`approved (\S+) Cores quota`)
	quotaLocationRE = regexp.MustCompile(`Location: (\w+)`)
	quotaNeedRE     = regexp.MustCompile(`Additional Required: (\d+)`)
	quotaNewLimitRE = regexp.MustCompile(`New Limit Required: (\d+)`)
	quotaLeftRE     = regexp.MustCompile(`left regional vcpu quota (\d+), requested quota (\d+)`)
	namespaceRE     = regexp.MustCompile(`namespace '([^']+)'`)
	vmSizeRE        = regexp.MustCompile(`(?i)\b(Standard_\w+)`)
	availableRE     = regexp.MustCompile(`(?i)the available vm sizes are '[^']*'`)
	sizeOfPoolRE    = regexp.MustCompile(`VM size of (?:AgentPoolProfile|AgentProfile|Agent):?\s*(\w+)`)
	messageLocRE    = regexp.MustCompile(`in (?:your subscription in )?location '([^']+)'`)
	invalidParamRE  = regexp.MustCompile(`The value of parameter (\S+) is invalid\. Error details: (.*?)\.?(?: Please see|$)`)
	groupLocationRE = regexp.MustCompile(`already exists in location '([^']+)'`)
	agentPoolRE     = regexp.MustCompile(`^Provisioning of resource\(s\) for Agent Pool (\S+) failed\.\s*Error:\s*(.*)$`)
)

// retryAfter429 is the Retry-After of a throttled (429) answer. The
// retry policy gives such an answer back at once when the wait it asks for
// is longer than the policy's own bound, so the error must say so.
func retryAfter429(err error) (time.Duration, bool) {
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.RawResponse == nil || re.StatusCode != http.StatusTooManyRequests {
		return 0, false
	}
	n, perr := strconv.Atoi(re.RawResponse.Header.Get("Retry-After"))
	if perr != nil || n <= 0 {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

// unwrapAgentPool turns AKS's "Provisioning of resource(s) for Agent Pool
// X failed. Error: {...}" into the pool and the reason inside it, which is
// the part a person can act on; ok is false for other messages.
func unwrapAgentPool(msg string) (pool, code, reason string, ok bool) {
	m := agentPoolRE.FindStringSubmatch(strings.TrimSpace(strings.ReplaceAll(msg, "\n", " ")))
	if m == nil {
		return "", "", "", false
	}
	pool, reason = m[1], strings.TrimSpace(m[2])
	var inner struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if i := strings.Index(reason, "{"); i >= 0 && json.Unmarshal([]byte(reason[i:]), &inner) == nil && inner.Message != "" {
		return pool, inner.Code, inner.Message, true
	}
	return pool, "", reason, true
}

// explain turns err into an *Error naming resource, or returns err
// unchanged when it is not an Azure answer (a cancelled context, a network
// failure). location is the region dhub asked for, for the quota and SKU
// hints.
func explain(err error, resource, location string) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	if cerr := credentialError(err); cerr != nil {
		return cerr
	}
	status, code, msg, ok := responseError(err)
	if !ok {
		return err
	}
	if pool, inner, reason, ok := unwrapAgentPool(msg); ok {
		// The pool's own failure says what to fix; the wrapper does not.
		resource = fmt.Sprintf("%s (node pool %s)", resource, pool)
		if inner != "" {
			code = inner
		}
		msg = reason
	}
	e := &Error{Resource: resource, Code: code, Err: err}
	lead := fmt.Sprintf("%s: Azure refused with %s", resource, code)
	switch {
	case status == http.StatusTooManyRequests:
		if d, ok := retryAfter429(err); ok {
			e.Sentence = fmt.Sprintf("%s: Azure is throttling requests and asked dhub to wait %s before the next one, longer than dhub waits by itself; run 'dhub up' again after that (the refused request changed nothing)",
				lead, d)
			break
		}
		e.Sentence = fmt.Sprintf("%s: Azure kept throttling requests through every retry; run 'dhub up' again in a few minutes (the refused request changed nothing)", lead)
	case isSizeRefused(code, msg):
		// The list of sizes that are offered names sizes too: leave it out.
		size := firstMatch(vmSizeRE, availableRE.ReplaceAllString(linkRE.ReplaceAllString(msg, ""), ""))
		if size == "" {
			if pool := firstMatch(sizeOfPoolRE, msg); pool != "" {
				size = "the VM size of node pool " + pool
			} else {
				size = "the requested VM size"
			}
		}
		if l := firstMatch(messageLocRE, msg); l != "" {
			location = l
		}
		e.Sentence = fmt.Sprintf("%s: %s is not offered to this subscription in %s; pick another vmSize in azure.nodePools ('az vm list-skus -l %s --resource-type virtualMachines -o table' lists them; a size with restrictions is not usable) or another azure.location",
			lead, size, location, location)
	case code == "AKSCapacityHeavyUsage" || code == "AKSCapacityError" || code == "ResourcesOverConstrained" ||
		code == "AllocationFailed" || code == "ZonalAllocationFailed" || code == "OverconstrainedAllocationRequest" || code == "OverconstrainedZonalAllocationRequest" ||
		code == "SkuNotAvailableCapacity":
		e.Sentence = fmt.Sprintf("%s: Azure has no capacity for this request in %s right now (%s); try again later, or use another azure.location or another vmSize in azure.nodePools",
			lead, location, strings.TrimSuffix(firstSentence(linkRE.ReplaceAllString(msg, "")), "."))
	case isQuota(code, msg):
		family := firstMatch(quotaFamilyRE, msg)
		if family == "" {
			family = "regional"
		}
		if l := firstMatch(quotaLocationRE, msg); l != "" {
			location = l
		}
		need := ""
		if n := firstMatch(quotaNeedRE, msg); n != "" {
			need = fmt.Sprintf(": %s more cores are needed", n)
			if lim := firstMatch(quotaNewLimitRE, msg); lim != "" {
				need += fmt.Sprintf(" (a limit of at least %s)", lim)
			}
		} else if m := quotaLeftRE.FindStringSubmatch(msg); m != nil {
			need = fmt.Sprintf(": %s cores are requested and %s are left", m[2], m[1])
		}
		e.Sentence = fmt.Sprintf("%s: the %s vCPU quota in %s is too small%s; request an increase (Azure portal: Quotas, or 'az quota update') or use smaller or fewer VMs in azure.nodePools",
			lead, family, location, need)
	case code == "MissingSubscriptionRegistration" || code == "SubscriptionNotRegistered" || code == "MissingRegistrationForResourceProvider" ||
		code == "MissingRegistrationForType" || code == "NoRegisteredProviderFound":
		ns := firstMatch(namespaceRE, msg)
		if ns == "" {
			ns = "Microsoft.ContainerService"
		}
		e.Sentence = fmt.Sprintf("%s: the subscription is not registered for %s; register it once with 'az provider register --namespace %s --wait' and run dhub again",
			lead, ns, ns)
	case invalidParamRE.MatchString(msg):
		// AKS's InvalidParameter names the field and why; its first
		// sentence alone ("The value of parameter X is invalid.") does not.
		m := invalidParamRE.FindStringSubmatch(msg)
		e.Sentence = fmt.Sprintf("%s: %s is invalid: %s; change it in dhub.yaml (azure.nodePools, azure.kubernetesVersion)", lead, m[1], strings.TrimSuffix(m[2], "."))
	case code == "InvalidResourceGroupLocation":
		where := firstMatch(groupLocationRE, msg)
		e.Sentence = fmt.Sprintf("%s: the resource group already exists in %s, not %s; set azure.location to %s or choose another azure.resourceGroup",
			lead, orDefault(where, "another region"), location, orDefault(where, "that region"))
	case code == "DnsRecordInUse" || code == "DnsRecordCreateConflict":
		e.Sentence = fmt.Sprintf("%s: the DNS label is taken in %s by another Azure resource (%s); set azure.dnsLabel to another label", lead, location, strings.TrimSuffix(firstSentence(msg), "."))
	case strings.Contains(code, "AlreadyExists") || strings.Contains(code, "NameNotAvailable") ||
		strings.Contains(code, "Conflict") || code == "DnsPrefixAlreadyExists":
		e.Sentence = fmt.Sprintf("%s: Azure refused with %s: the name is taken (%s); choose another name in dhub.yaml (azure.resourceGroup, azure.clusterName or the hub's name)",
			resource, code, firstSentence(msg))
	case code == "AuthorizationFailed" || status == http.StatusForbidden:
		e.Sentence = fmt.Sprintf("%s: Azure refused with %s: the signed-in identity may not do this; ask for the Contributor role on the subscription or the resource group", resource, orDefault(code, "403"))
	case code == "SubscriptionNotFound" || code == "InvalidSubscriptionId":
		e.Sentence = fmt.Sprintf("%s: Azure refused with %s: the subscription does not exist or the signed-in identity cannot see it; check azure.subscription, AZURE_SUBSCRIPTION_ID or 'az account show'", resource, code)
	case status >= 200 && status < 300:
		// A long-running operation that ended Failed: Azure answered the
		// poll with 200 and put the failure in the body.
		e.Sentence = fmt.Sprintf("%s: the operation failed in Azure with %s: %s", resource, orDefault(code, "(no error code)"), firstSentence(msg))
	default:
		e.Sentence = fmt.Sprintf("%s: Azure answered %d %s: %s", resource, status, orDefault(code, "(no error code)"), firstSentence(msg))
	}
	return e
}

// credentialError explains a failure to get a token, or returns nil.
func credentialError(err error) error {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return nil
	}
	var af *azidentity.AuthenticationFailedError
	msg := err.Error()
	if !errors.As(err, &af) && !strings.Contains(msg, "DefaultAzureCredential") && !strings.Contains(msg, "failed to acquire a token") {
		return nil
	}
	return &Error{
		Resource: "Azure sign-in",
		Code:     "CredentialUnavailable",
		Sentence: "Azure sign-in: no credential could get a token; run 'az login' (or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET, or use a managed identity) and run dhub again",
		Err:      err,
	}
}

func firstMatch(re *regexp.Regexp, s string) string {
	if m := re.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

// firstSentence keeps an Azure message short: its first sentence or line.
func firstSentence(msg string) string {
	msg = strings.TrimSpace(msg)
	if i := strings.IndexAny(msg, "\n"); i > 0 {
		msg = msg[:i]
	}
	if i := strings.Index(msg, ". "); i > 0 {
		msg = msg[:i+1]
	}
	if msg == "" {
		return "no message"
	}
	return msg
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
