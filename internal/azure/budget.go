package azure

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/consumption/armconsumption"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v9"

	"dhub/internal/config"
	"dhub/internal/plan"
)

// KindBudget is a cost budget in plans.
const KindBudget = "budget"

// budgetDimension is the cost dimension a hub's budget filters on. The
// budget lives at the subscription's scope, not the hub's resource
// group's: the nodes, their disks and the load balancer are billed in the
// cluster's node resource group, which AKS makes beside it, and a budget
// at one group's scope cannot count another's.
const budgetDimension = "ResourceGroupName"

// BudgetName is the name of hub h's budget: Azure allows 63 letters,
// digits, '-' and '_'. Budgets carry no tags, so dhub knows its own by
// this name and by a filter on the hub's resource group (ownBudget).
func BudgetName(h *config.Hub) string {
	n := "dhub-" + h.Name
	if len(n) > 63 {
		n = strings.TrimRight(n[:63], "-")
	}
	return n
}

// budgetScope is the subscription, the scope of a hub's budget.
func (c *Client) budgetScope() string { return "/subscriptions/" + c.o.Subscription }

// nodeGroup is the cluster's node resource group: the one AKS reports, or
// for a cluster not made yet the name AKS gives it
// (MC_<group>_<cluster>_<location>, at most 80 characters).
func nodeGroup(h *config.Hub, mc *armcontainerservice.ManagedCluster) string {
	if mc != nil && mc.Properties != nil && deref(mc.Properties.NodeResourceGroup) != "" {
		return deref(mc.Properties.NodeResourceGroup)
	}
	a := h.Azure
	n := fmt.Sprintf("MC_%s_%s_%s", a.ResourceGroup, a.ClusterName, a.Location)
	if len(n) > 80 {
		n = n[:80]
	}
	return n
}

// budgetGroups are the resource groups a hub's budget counts.
func budgetGroups(h *config.Hub, mc *armcontainerservice.ManagedCluster) []string {
	return []string{h.Azure.ResourceGroup, nodeGroup(h, mc)}
}

// monthStart is the first day of t's month, UTC: where a monthly budget
// must start.
func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// notificationKey names a notification as Azure does:
// <thresholdType>_<operator>_<threshold>_Percent.
func notificationKey(kind armconsumption.ThresholdType, percent float64) string {
	return fmt.Sprintf("%s_GreaterThan_%g_Percent", strings.ToLower(string(kind)), percent)
}

// desiredBudget is the budget dhub.yaml asks for, counting groups,
// starting at start.
func desiredBudget(b *config.Budget, groups []string, start time.Time) armconsumption.Budget {
	notes := map[string]*armconsumption.Notification{}
	add := func(kind armconsumption.ThresholdType, percents []float64) {
		for _, p := range percents {
			notes[notificationKey(kind, p)] = &armconsumption.Notification{
				Enabled:       to.Ptr(true),
				Operator:      to.Ptr(armconsumption.OperatorTypeGreaterThan),
				Threshold:     to.Ptr(p),
				ThresholdType: to.Ptr(kind),
				ContactEmails: to.SliceOfPtrs(b.ContactEmails...),
			}
		}
	}
	add(armconsumption.ThresholdTypeActual, b.Actual)
	add(armconsumption.ThresholdTypeForecasted, b.Forecast)
	return armconsumption.Budget{Properties: &armconsumption.BudgetProperties{
		Amount:     to.Ptr(b.Amount),
		Category:   to.Ptr(armconsumption.CategoryTypeCost),
		TimeGrain:  to.Ptr(armconsumption.TimeGrainTypeMonthly),
		TimePeriod: &armconsumption.BudgetTimePeriod{StartDate: to.Ptr(start)},
		Filter: &armconsumption.BudgetFilter{Dimensions: &armconsumption.BudgetComparisonExpression{
			Name: to.Ptr(budgetDimension), Operator: to.Ptr(armconsumption.BudgetOperatorTypeIn), Values: to.SliceOfPtrs(groups...),
		}},
		Notifications: notes,
	}}
}

// filterGroups are the resource groups a budget's filter names, or nil
// when its filter is anything else.
func filterGroups(b *armconsumption.Budget) []string {
	if b.Properties == nil || b.Properties.Filter == nil {
		return nil
	}
	f := b.Properties.Filter
	d := f.Dimensions
	if d == nil || len(f.And) > 0 || f.Tags != nil || !strings.EqualFold(deref(d.Name), budgetDimension) || deref(d.Operator) != armconsumption.BudgetOperatorTypeIn {
		return nil
	}
	var out []string
	for _, v := range d.Values {
		out = append(out, deref(v))
	}
	return out
}

// ownBudget returns nil when b is the budget dhub made for hub h: one
// that counts the hub's resource group and nothing but resource groups.
func ownBudget(b *armconsumption.Budget, h *config.Hub) error {
	groups := filterGroups(b)
	if !slices.ContainsFunc(groups, func(g string) bool { return strings.EqualFold(g, h.Azure.ResourceGroup) }) {
		return fmt.Errorf("its filter is not dhub's (%s on resource group %s)", budgetDimension, h.Azure.ResourceGroup)
	}
	return nil
}

// describeNotifications says who is told when, e.g. "actual 80%, 100%;
// forecast 100%; to ops@example.org".
func describeNotifications(notes map[string]*armconsumption.Notification) string {
	var actual, forecast []float64
	var mails []string
	for _, n := range notes {
		if n == nil || !deref(n.Enabled) {
			continue
		}
		if deref(n.ThresholdType) == armconsumption.ThresholdTypeForecasted {
			forecast = append(forecast, deref(n.Threshold))
		} else {
			actual = append(actual, deref(n.Threshold))
		}
		for _, m := range n.ContactEmails {
			if !slices.Contains(mails, deref(m)) {
				mails = append(mails, deref(m))
			}
		}
	}
	slices.Sort(actual)
	slices.Sort(forecast)
	slices.Sort(mails)
	percents := func(ps []float64) string {
		if len(ps) == 0 {
			return "none"
		}
		s := make([]string, len(ps))
		for i, p := range ps {
			s[i] = fmt.Sprintf("%g%%", p)
		}
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("actual %s; forecast %s; to %s", percents(actual), percents(forecast), orDefault(strings.Join(mails, ", "), "nobody"))
}

// describeBudget is a budget's one-line summary in plans.
func describeBudget(b *armconsumption.Budget, currency string) string {
	p := b.Properties
	return fmt.Sprintf("%g %s a month on resource groups %s; mails at %s", deref(p.Amount), currency,
		strings.Join(filterGroups(b), ", "), describeNotifications(p.Notifications))
}

// diffBudget lists the fields in which got differs from want.
func diffBudget(want, got *armconsumption.Budget, currency string) []plan.FieldChange {
	var fields []plan.FieldChange
	w, g := want.Properties, got.Properties
	if deref(w.Amount) != deref(g.Amount) {
		fields = append(fields, plan.FieldChange{Field: "amount", From: fmt.Sprintf("%g %s", deref(g.Amount), currency), To: fmt.Sprintf("%g %s", deref(w.Amount), currency)})
	}
	if wn, gn := describeNotifications(w.Notifications), describeNotifications(g.Notifications); wn != gn {
		fields = append(fields, plan.FieldChange{Field: "notifications", From: gn, To: wn})
	}
	norm := func(gs []string) string {
		s := make([]string, len(gs))
		for i, x := range gs {
			s[i] = strings.ToLower(x)
		}
		slices.Sort(s)
		return strings.Join(s, ", ")
	}
	if wg, gg := filterGroups(want), filterGroups(got); norm(wg) != norm(gg) {
		fields = append(fields, plan.FieldChange{Field: "filter.resourceGroups", From: strings.Join(gg, ", "), To: strings.Join(wg, ", ")})
	}
	return fields
}

// offerIDRE finds the offer id in Cost Management's refusal of an offer
// type ("offerId: MS-AZR-0036P is associated with offerType: None").
var offerIDRE = regexp.MustCompile(`offerId: ([A-Za-z0-9-]+)`)

// budgetError explains a refusal of the Consumption Budgets API in one
// sentence with its fix. Refusals never stop the hub's deployment: the
// caller shows them as warnings.
func (c *Client) budgetError(err error, h *config.Hub) error {
	status, code, msg, ok := responseError(err)
	if !ok {
		return err
	}
	resource := KindBudget + " " + BudgetName(h)
	sentence := ""
	switch {
	case status == http.StatusForbidden || code == "AuthorizationFailed" || code == "RBACAccessDenied":
		sentence = fmt.Sprintf("%s: Azure refused with %s: the signed-in identity may not manage budgets in subscription %s; ask for the Cost Management Contributor role there, or remove azure.budget from dhub.yaml",
			resource, orDefault(code, "403"), c.o.Subscription)
	case strings.Contains(msg, "offer type"):
		offer := "its offer"
		if id := firstMatch(offerIDRE, msg); id != "" {
			offer = "its offer " + id
		}
		sentence = fmt.Sprintf("%s: Cost Management offers budgets only to Enterprise Agreement, pay-as-you-go (Web direct) and Microsoft Customer Agreement subscriptions, and subscription %s is not one (%s); remove azure.budget from dhub.yaml, or set a budget on the billing account in the Azure portal",
			resource, c.o.Subscription, offer)
	}
	if sentence == "" {
		return explain(err, resource, h.Azure.Location)
	}
	return &Error{Resource: resource, Code: code, Sentence: sentence, Err: err}
}

// readBudget reads hub h's budget: nil when there is none.
func (c *Client) readBudget(ctx context.Context, h *config.Hub) (*armconsumption.Budget, error) {
	r, err := c.budgets.Get(ctx, c.budgetScope(), BudgetName(h), nil)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, c.budgetError(err, h)
	}
	return &r.Budget, nil
}

// planBudget plans hub h's budget against what Azure has (one GET): a
// create, an update, a delete of the one dhub made when dhub.yaml has none
// any more, or nothing. A budget Azure refuses to show is a warning, not a
// failure: the hub is deployed without it.
func (p *Plan) planBudget(ctx context.Context, c *Client, mc *armcontainerservice.ManagedCluster) {
	h := p.hub
	b := h.Azure.Budget
	name := BudgetName(h)
	got, err := c.readBudget(ctx, h)
	switch {
	case err != nil && b != nil:
		p.View.Warnings = append(p.View.Warnings, err.Error()+" (the hub is deployed without it)")
		return
	case err != nil, got == nil && b == nil:
		// Nothing asked for, and nothing of dhub's to remove as far as
		// Azure lets dhub see.
		return
	}
	ch := plan.Change{Kind: KindBudget, Name: name}
	if got != nil {
		if err := ownBudget(got, h); err != nil {
			if b != nil {
				p.View.Warnings = append(p.View.Warnings, fmt.Sprintf("%s %s exists in subscription %s but %v: dhub leaves it alone; remove azure.budget, or delete or rename that budget", KindBudget, name, c.o.Subscription, err))
			}
			return
		}
	}
	currency := h.Azure.Currency
	if b == nil {
		ch.Action, ch.Reason = plan.Delete, "made by dhub for this hub and no longer in dhub.yaml"
		ch.Detail = describeBudget(got, currency)
		p.add(ch, step{kind: stepDeleteBudget})
		return
	}
	want := desiredBudget(b, budgetGroups(h, mc), monthStart(c.o.Now()))
	switch {
	case got == nil:
		ch.Action, ch.Reason = plan.Create, "does not exist; Azure mails the contacts when the month's cost passes a threshold (the hub's deployment goes on if Azure refuses it)"
		ch.Detail = describeBudget(&want, currency) + "; Azure counts it in the billing account's currency"
		p.add(ch, step{kind: stepPutBudget})
	default:
		ch.Fields = diffBudget(&want, got, currency)
		if len(ch.Fields) == 0 {
			ch.Action, ch.Reason = plan.NoOp, "matches dhub.yaml"
			p.add(ch)
			return
		}
		ch.Action, ch.Reason = plan.Update, "differs from dhub.yaml; changed in place (its start date stays, as Azure requires)"
		p.add(ch, step{kind: stepPutBudget})
	}
}

// putBudget creates or updates hub h's budget on the groups of the
// cluster as it is now. An update keeps the budget's start date (Azure
// refuses to change it) and sends its eTag. A refusal goes to res as a
// warning: the hub is deployed without the budget.
func (c *Client) putBudget(ctx context.Context, h *config.Hub, res *Result) error {
	name := BudgetName(h)
	resource := KindBudget + " " + name
	start := c.o.Now()
	err := func() error {
		mc, err := c.clusters.Get(ctx, h.Azure.ResourceGroup, h.Azure.ClusterName, nil)
		if err != nil {
			return explain(err, KindCluster+" "+h.Azure.ClusterName, h.Azure.Location)
		}
		got, err := c.readBudget(ctx, h)
		if err != nil {
			return err
		}
		body := desiredBudget(h.Azure.Budget, budgetGroups(h, &mc.ManagedCluster), monthStart(c.o.Now()))
		action := "create"
		if got != nil {
			action = "update"
			if got.Properties != nil && got.Properties.TimePeriod != nil {
				body.Properties.TimePeriod = got.Properties.TimePeriod
			}
			body.ETag = got.ETag
		}
		if _, err := c.budgets.CreateOrUpdate(ctx, c.budgetScope(), name, body, nil); err != nil {
			return c.budgetError(err, h)
		}
		res.Operations = append(res.Operations, Operation{Resource: resource, Action: action, Seconds: c.o.Now().Sub(start).Seconds()})
		return nil
	}()
	return c.budgetWarning(ctx, err, res)
}

// deleteBudget deletes hub h's budget; one already gone counts as deleted.
func (c *Client) deleteBudget(ctx context.Context, h *config.Hub, res *Result) error {
	resource := KindBudget + " " + BudgetName(h)
	start := c.o.Now()
	_, err := c.budgets.Delete(ctx, c.budgetScope(), BudgetName(h), nil)
	switch {
	case err == nil || isNotFound(err):
		res.Operations = append(res.Operations, Operation{Resource: resource, Action: "delete", Seconds: c.o.Now().Sub(start).Seconds()})
		return nil
	}
	return c.budgetWarning(ctx, c.budgetError(err, h), res)
}

// budgetWarning turns an Azure refusal of a budget into a warning of res;
// an interruption stays an error.
func (c *Client) budgetWarning(ctx context.Context, err error, res *Result) error {
	var ae *Error
	if err == nil || ctx.Err() != nil || !errors.As(err, &ae) {
		return err
	}
	res.Warnings = append(res.Warnings, err.Error()+" (the hub is deployed without it)")
	return nil
}

// BudgetStatus is a hub's budget as Azure reports it.
type BudgetStatus struct {
	Name string `json:"name"`
	// Amount is the monthly amount, in Unit when Azure says it.
	Amount float64 `json:"amount"`
	// Spent and Forecast are this month's cost so far and Azure's
	// forecast for the month, when Azure has them.
	Spent    *float64 `json:"spent,omitempty"`
	Forecast *float64 `json:"forecast,omitempty"`
	Unit     string   `json:"unit,omitempty"`
	// Notifications says who is told when.
	Notifications string `json:"notifications,omitempty"`
	// Problem is why the budget could not be read, or that it does not
	// exist; empty when it was read.
	Problem string `json:"problem,omitempty"`
}

// budgetStatus reads hub h's budget for Status; a refusal is its Problem.
func (c *Client) budgetStatus(ctx context.Context, h *config.Hub) *BudgetStatus {
	bs := &BudgetStatus{Name: BudgetName(h), Unit: h.Azure.Currency}
	got, err := c.readBudget(ctx, h)
	if err == nil && got == nil {
		err = errors.New("does not exist: 'dhub up' creates it")
	}
	if err == nil {
		if oerr := ownBudget(got, h); oerr != nil {
			err = fmt.Errorf("exists, but dhub did not make it for this hub: %w", oerr)
		}
	}
	if err != nil {
		bs.Problem = err.Error()
		return bs
	}
	p := got.Properties
	bs.Amount = deref(p.Amount)
	bs.Notifications = describeNotifications(p.Notifications)
	if s := p.CurrentSpend; s != nil {
		bs.Spent = s.Amount
		bs.Unit = orDefault(deref(s.Unit), bs.Unit)
	}
	if f := p.ForecastSpend; f != nil {
		bs.Forecast = f.Amount
	}
	return bs
}
