package azure_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/consumption/armconsumption"

	"dhub/internal/azure"
	"dhub/internal/azure/azurefake"
	"dhub/internal/config"
	"dhub/internal/golden"
	"dhub/internal/plan"
)

// budgetDay is the fake's today in the budget tests.
var budgetDay = time.Date(2026, 12, 7, 10, 30, 0, 0, time.UTC)

// budgetEnv is an env whose fake Azure and client share a clock.
func budgetEnv(t *testing.T) (*env, *time.Time) {
	t.Helper()
	now := budgetDay
	e := newEnv(t)
	e.w.Now = func() time.Time { return now }
	return e, &now
}

// withBudget is the recommended example with a budget.
func withBudget(t *testing.T) *config.Hub {
	h := hub(t, "azure-recommended.yaml")
	h.Azure.Budget = &config.Budget{Amount: 900, Actual: []float64{80, 100}, Forecast: []float64{100}, ContactEmails: []string{"ops@example.org"}}
	return h
}

// change returns the plan's change of kind and name.
func change(p *azure.Plan, kind, name string) *plan.Change {
	for i, c := range p.View.Changes {
		if c.Kind == kind && c.Name == name {
			return &p.View.Changes[i]
		}
	}
	return nil
}

func TestBudgetComesWithTheHub(t *testing.T) {
	e, _ := budgetEnv(t)
	h := withBudget(t)
	p, res := e.up(t, h)
	ch := change(p, azure.KindBudget, "dhub-pangeo-hub")
	if ch == nil || ch.Action != plan.Create {
		t.Fatalf("plan's budget: %+v", ch)
	}
	for _, want := range []string{"900 USD a month on resource groups pangeo, MC_pangeo_pangeoCluster_westeurope", "actual 80%, 100%; forecast 100%; to ops@example.org"} {
		if !strings.Contains(ch.Detail, want) {
			t.Errorf("plan's budget detail lacks %q: %s", want, ch.Detail)
		}
	}
	if len(res.Warnings) > 0 {
		t.Errorf("warnings: %v", res.Warnings)
	}
	b := e.w.Budget("dhub-pangeo-hub")
	if b == nil {
		t.Fatal("no budget made")
	}
	if got := deref(b.Properties.TimePeriod.StartDate); !got.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("start date %v, want the first of the month", got)
	}
	// The node resource group is the one AKS reported for the cluster.
	var groups []string
	for _, v := range b.Properties.Filter.Dimensions.Values {
		groups = append(groups, *v)
	}
	if want := []string{"pangeo", *e.w.Cluster("pangeo", "pangeoCluster").Properties.NodeResourceGroup}; !slices.Equal(groups, want) {
		t.Errorf("budget counts %v, want %v", groups, want)
	}
	var budgetWrites []azurefake.Request
	for _, r := range e.w.Writes() {
		if strings.Contains(r.Path, "/budgets/") {
			budgetWrites = append(budgetWrites, r)
		}
	}
	if len(budgetWrites) != 1 {
		t.Fatalf("budget writes: %v", paths(budgetWrites))
	}
	golden.Check(t, "testdata/golden/budget-create-body.json", indentJSON(t, budgetWrites[0].Body))

	// Converged: the budget costs one GET, and up writes nothing.
	e.w.ResetLog()
	p, res = e.up(t, h)
	if ch := change(p, azure.KindBudget, "dhub-pangeo-hub"); ch == nil || ch.Action != plan.NoOp {
		t.Errorf("converged budget: %+v", ch)
	}
	var reads int
	for _, r := range e.w.Requests() {
		if strings.Contains(r.Path, "/budgets/") {
			if r.Method != http.MethodGet {
				t.Errorf("converged up sent %s %s", r.Method, r.Path)
			}
			reads++
		}
	}
	if len(e.w.Writes()) != 0 || res.Writes() != 0 {
		t.Errorf("converged up wrote %v", paths(e.w.Writes()))
	}
	t.Logf("MEASURE converged up: %d budget request(s), all GET", reads)
}

func TestBudgetChangesKeepItsStartDate(t *testing.T) {
	e, now := budgetEnv(t)
	h := withBudget(t)
	e.up(t, h)
	// A month later the admin raises the amount and drops a threshold: the
	// budget keeps December as its start, which Azure never changes.
	*now = budgetDay.AddDate(0, 1, 0)
	h.Azure.Budget.Amount = 1200
	h.Azure.Budget.Actual = []float64{90}
	p, res := e.up(t, h)
	ch := change(p, azure.KindBudget, "dhub-pangeo-hub")
	if ch == nil || ch.Action != plan.Update {
		t.Fatalf("plan's budget: %+v", ch)
	}
	var fields []string
	for _, f := range ch.Fields {
		fields = append(fields, f.Field+": "+f.From+" -> "+f.To)
	}
	equal(t, "budget fields", fields, []string{
		"amount: 900 USD -> 1200 USD",
		"notifications: actual 80%, 100%; forecast 100%; to ops@example.org -> actual 90%; forecast 100%; to ops@example.org",
	})
	if len(res.Warnings) > 0 {
		t.Fatalf("warnings: %v", res.Warnings)
	}
	b := e.w.Budget("dhub-pangeo-hub")
	if deref(b.Properties.Amount) != 1200 || len(b.Properties.Notifications) != 2 {
		t.Errorf("budget after the update: amount %v, %d notifications", deref(b.Properties.Amount), len(b.Properties.Notifications))
	}
	if got := deref(b.Properties.TimePeriod.StartDate); !got.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("start date %v after the update, want December's", got)
	}

	// Gone from dhub.yaml: the budget dhub made goes.
	h.Azure.Budget = nil
	p, _ = e.up(t, h)
	if ch := change(p, azure.KindBudget, "dhub-pangeo-hub"); ch == nil || ch.Action != plan.Delete {
		t.Fatalf("plan's budget once dhub.yaml has none: %+v", ch)
	}
	if e.w.Budget("dhub-pangeo-hub") != nil {
		t.Error("the budget is still there")
	}
}

// TestBudgetRefusalsDoNotStopTheHub: a subscription of an offer type
// Cost Management does not serve, and an identity that may not write
// budgets, each leave a one-sentence warning with the fix, and the
// cluster is made.
func TestBudgetRefusalsDoNotStopTheHub(t *testing.T) {
	t.Run("offer type", func(t *testing.T) {
		e, _ := budgetEnv(t)
		e.w.SetBudgetOffer("MS-AZR-0036P")
		p, res := e.up(t, withBudget(t))
		if change(p, azure.KindBudget, "dhub-pangeo-hub") != nil {
			t.Error("the plan has a budget step the subscription cannot take")
		}
		warning := strings.Join(p.View.Warnings, "\n")
		for _, want := range []string{"budget dhub-pangeo-hub: Cost Management offers budgets only to Enterprise Agreement, pay-as-you-go (Web direct) and Microsoft Customer Agreement subscriptions",
			"is not one (its offer MS-AZR-0036P)", "remove azure.budget from dhub.yaml", "(the hub is deployed without it)"} {
			if !strings.Contains(warning, want) {
				t.Errorf("plan's warnings lack %q:\n%s", want, warning)
			}
		}
		if e.w.Cluster("pangeo", "pangeoCluster") == nil || res.LongRunning() != 1 {
			t.Error("the cluster was not made")
		}
	})
	t.Run("no permission", func(t *testing.T) {
		e, _ := budgetEnv(t)
		e.w.AddFault(&azurefake.Fault{Method: http.MethodPut, Path: "/budgets/dhub-pangeo-hub", Status: http.StatusForbidden, Code: "AuthorizationFailed",
			Message: "The client 'ops@example.org' with object id '9c2b1b1e-0000-0000-0000-000000000001' does not have authorization to perform action 'Microsoft.Consumption/budgets/write' over scope '/subscriptions/" + azurefake.Subscription + "/providers/Microsoft.Consumption/budgets/dhub-pangeo-hub' or the scope is invalid. If access was recently granted, please refresh your credentials."})
		_, res := e.up(t, withBudget(t))
		if len(res.Warnings) != 1 {
			t.Fatalf("warnings %q, want the budget's", res.Warnings)
		}
		w := res.Warnings[0]
		for _, want := range []string{"budget dhub-pangeo-hub: Azure refused with AuthorizationFailed", "ask for the Cost Management Contributor role there, or remove azure.budget"} {
			if !strings.Contains(w, want) {
				t.Errorf("warning lacks %q: %s", want, w)
			}
		}
		if strings.Contains(w, "\n") || strings.Contains(w, ". ") {
			t.Errorf("not one sentence: %q", w)
		}
		if e.w.Cluster("pangeo", "pangeoCluster") == nil || e.w.Budget("dhub-pangeo-hub") != nil {
			t.Error("want the cluster and no budget")
		}
	})
}

// someoneElses is a budget of the hub's name that dhub did not make: it
// counts the whole subscription.
func someoneElses() armconsumption.Budget {
	return armconsumption.Budget{Properties: &armconsumption.BudgetProperties{
		Amount: to.Ptr(5000.0), Category: to.Ptr(armconsumption.CategoryTypeCost), TimeGrain: to.Ptr(armconsumption.TimeGrainTypeMonthly),
		TimePeriod: &armconsumption.BudgetTimePeriod{StartDate: to.Ptr(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))},
	}}
}

func TestBudgetDhubDidNotMakeIsLeftAlone(t *testing.T) {
	e, _ := budgetEnv(t)
	e.w.AddBudget("dhub-pangeo-hub", someoneElses())
	p, _ := e.up(t, withBudget(t))
	if ch := change(p, azure.KindBudget, "dhub-pangeo-hub"); ch != nil {
		t.Errorf("the plan changes a budget dhub did not make: %+v", ch)
	}
	if w := strings.Join(p.View.Warnings, "\n"); !strings.Contains(w, "budget dhub-pangeo-hub exists in subscription "+azurefake.Subscription+" but its filter is not dhub's") {
		t.Errorf("warnings: %s", w)
	}
	d, err := e.c.PlanDown(context.Background(), withBudget(t), false)
	if err != nil {
		t.Fatal(err)
	}
	if d.Budget != "" || !slices.ContainsFunc(d.Kept, func(k string) bool { return strings.HasPrefix(k, "budget dhub-pangeo-hub: its filter is not dhub's") }) {
		t.Errorf("down would delete it, or does not say why it stays: %+v", d)
	}
	if _, err := e.c.Down(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if b := e.w.Budget("dhub-pangeo-hub"); b == nil || deref(b.Properties.Amount) != 5000 {
		t.Errorf("someone else's budget after down: %+v", b)
	}
}

func TestBudgetInStatusAndGoneWithDown(t *testing.T) {
	e, _ := budgetEnv(t)
	h := withBudget(t)
	e.up(t, h)
	e.w.SetBudgetSpend("dhub-pangeo-hub", 312.5, 841, "USD")
	st, err := e.c.Status(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	b := st.Budget
	if b == nil || b.Problem != "" || deref(b.Spent) != 312.5 || deref(b.Forecast) != 841 || b.Amount != 900 || b.Unit != "USD" {
		t.Fatalf("status's budget: %+v", b)
	}

	d, err := e.c.PlanDown(context.Background(), h, false)
	if err != nil {
		t.Fatal(err)
	}
	if d.Budget != "dhub-pangeo-hub" || d.Group != "pangeo" {
		t.Fatalf("down plans %+v", d)
	}
	res, err := e.c.Down(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Deleted, "budget dhub-pangeo-hub") || e.w.Budget("dhub-pangeo-hub") != nil {
		t.Errorf("deleted %v; budget left: %v", res.Deleted, e.w.Budget("dhub-pangeo-hub") != nil)
	}
	st, err = e.c.Status(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if st.Budget == nil || st.Budget.Problem != "does not exist: 'dhub up' creates it" {
		t.Errorf("status's budget after down: %+v", st.Budget)
	}
}

// TestFakeBudgetsAPIRules sends what the Budgets API refuses straight
// through the SDK's client, so that the fake is seen to refuse it with
// Azure's 400 and message.
func TestFakeBudgetsAPIRules(t *testing.T) {
	e, _ := budgetEnv(t)
	o := e.w.Options(nil)
	client, err := armconsumption.NewBudgetsClient(o.Credential, &o.ClientOptions)
	if err != nil {
		t.Fatal(err)
	}
	scope := "/subscriptions/" + azurefake.Subscription
	good := func() armconsumption.Budget {
		b := someoneElses()
		b.Properties.TimePeriod.StartDate = to.Ptr(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
		b.Properties.Notifications = map[string]*armconsumption.Notification{"actual_GreaterThan_80_Percent": {
			Enabled: to.Ptr(true), Operator: to.Ptr(armconsumption.OperatorTypeGreaterThan), Threshold: to.Ptr(80.0),
			ContactEmails: []*string{to.Ptr("ops@example.org")}}}
		return b
	}
	if _, err := client.CreateOrUpdate(context.Background(), scope, "ok", good(), nil); err != nil {
		t.Fatalf("a budget the API takes: %v", err)
	}
	for _, tc := range []struct {
		name, budget string
		change       func(b *armconsumption.Budget)
		want         string
	}{
		{"start mid-month", "a", func(b *armconsumption.Budget) {
			b.Properties.TimePeriod.StartDate = to.Ptr(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
		}, "must be the first day of a month"},
		{"start before this month", "b", func(b *armconsumption.Budget) {
			b.Properties.TimePeriod.StartDate = to.Ptr(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
		}, "must not be before the current month"},
		{"start moved", "ok", func(b *armconsumption.Budget) {
			b.Properties.TimePeriod.StartDate = to.Ptr(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
		}, "Start date of budgets cannot be updated. Please delete and create a new budget."},
		{"six notifications", "c", func(b *armconsumption.Budget) {
			for _, p := range []float64{10, 20, 30, 40, 50} {
				n := *b.Properties.Notifications["actual_GreaterThan_80_Percent"]
				n.Threshold = to.Ptr(p)
				b.Properties.Notifications[strings.Repeat("x", int(p)/10)] = &n
			}
		}, "up to five notifications"},
		{"threshold over 1000", "d", func(b *armconsumption.Budget) {
			b.Properties.Notifications["actual_GreaterThan_80_Percent"].Threshold = to.Ptr(1500.0)
		}, "has to be between 0 and 1000"},
		{"nobody told", "e", func(b *armconsumption.Budget) {
			b.Properties.Notifications["actual_GreaterThan_80_Percent"].ContactEmails = nil
		}, "at least one contact email"},
		{"no amount", "f", func(b *armconsumption.Budget) { b.Properties.Amount = to.Ptr(0.0) }, "amount must be greater than 0"},
		{"filter and of one", "g", func(b *armconsumption.Budget) {
			b.Properties.Filter = &armconsumption.BudgetFilter{And: []*armconsumption.BudgetFilterProperties{{}}}
		}, "must have at least 2 items"},
		{"unknown dimension", "h", func(b *armconsumption.Budget) {
			b.Properties.Filter = &armconsumption.BudgetFilter{Dimensions: &armconsumption.BudgetComparisonExpression{
				Name: to.Ptr("Hub"), Operator: to.Ptr(armconsumption.BudgetOperatorTypeIn), Values: []*string{to.Ptr("x")}}}
		}, "dimension 'Hub' is not supported"},
		{"billing month", "i", func(b *armconsumption.Budget) {
			b.Properties.TimeGrain = to.Ptr(armconsumption.TimeGrainTypeBillingMonth)
		}, "only supported for Web Direct customers"},
		{"name", "dhub pangeo", func(*armconsumption.Budget) {}, "Budget name 'dhub pangeo' is invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := good()
			tc.change(&b)
			_, err := client.CreateOrUpdate(context.Background(), scope, tc.budget, b, nil)
			var re *azcore.ResponseError
			if !errors.As(err, &re) || re.StatusCode != http.StatusBadRequest || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want 400 with %q", err, tc.want)
			}
		})
	}
	// A stale eTag is refused: someone changed the budget meanwhile.
	b := good()
	b.ETag = to.Ptr(`"0"`)
	if _, err := client.CreateOrUpdate(context.Background(), scope, "ok", b, nil); err == nil || !strings.Contains(err.Error(), "PreconditionFailed") {
		t.Errorf("a stale eTag: err = %v", err)
	}
}

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// indentJSON renders a request body with sorted keys, indented, for a
// golden file.
func indentJSON(t *testing.T, body []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestDownGoesOnWhenTheBudgetIsRefused: an identity that may not delete
// budgets still deletes the hub's resource group; down's error names the
// budget left and the fix.
func TestDownGoesOnWhenTheBudgetIsRefused(t *testing.T) {
	e, _ := budgetEnv(t)
	h := withBudget(t)
	e.up(t, h)
	e.w.AddFault(&azurefake.Fault{Method: http.MethodDelete, Path: "/budgets/dhub-pangeo-hub", Status: http.StatusForbidden, Code: "AuthorizationFailed",
		Message: "The client 'ops@example.org' does not have authorization to perform action 'Microsoft.Consumption/budgets/delete'."})
	d, err := e.c.PlanDown(context.Background(), h, false)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.c.Down(context.Background(), d)
	if err == nil || !strings.Contains(err.Error(), "budget dhub-pangeo-hub: Azure refused with AuthorizationFailed") || !strings.Contains(err.Error(), "Cost Management Contributor") {
		t.Errorf("down's error: %v", err)
	}
	if e.w.Group("pangeo") != nil || !slices.Contains(res.Deleted, "resource group pangeo") || e.w.Budget("dhub-pangeo-hub") == nil {
		t.Errorf("deleted %v; group left: %v; want the group gone and the budget kept", res.Deleted, e.w.Group("pangeo") != nil)
	}
}
