package azurefake

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/consumption/armconsumption"
)

// This file is the Consumption Budgets API (Microsoft.Consumption
// 2021-10-01) and the rules it applies to a budget it is sent, from its
// REST specification and the answers Azure gives: a monthly budget starts
// on the first of a month, no earlier than the current month when it is
// created and no more than twelve months ahead, and its start date never
// changes; at most five notifications, each with a threshold over 0 and at
// most 1000 percent and an e-mail address; a filter's "and" has at least
// two parts. Subscriptions whose offer type Cost Management does not
// serve get its 400 with error code "400" for every call.

// budgetDimensions are the dimensions a budget's filter may name.
var budgetDimensions = []string{"ResourceId", "ResourceGroupName", "ResourceLocation", "ConsumedService", "MeterCategory",
	"MeterSubCategory", "Meter", "ResourceType", "ServiceName", "ServiceFamily", "ReservationId", "ChargeType", "PublisherType", "Frequency"}

var budgetNameRE = regexp.MustCompile(`^[-_a-zA-Z0-9]{1,63}$`)

// budget is one stored budget and what it has cost this month.
type budget struct {
	b        *armconsumption.Budget
	etag     int
	spent    *float64
	forecast *float64
	unit     string
}

// SetBudgetOffer makes every budget call refused as Cost Management
// refuses a subscription of an offer type it does not serve (for example
// MS-AZR-0036P, a sponsorship); "" serves budgets again.
func (w *World) SetBudgetOffer(offerID string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.budgetOffer = offerID
}

// SetBudgetSpend sets what budget name's GET reports as this month's cost
// and forecast, in unit.
func (w *World) SetBudgetSpend(name string, spent, forecast float64, unit string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if b := w.budgets[strings.ToLower(name)]; b != nil {
		b.spent, b.forecast, b.unit = &spent, &forecast, unit
	}
}

// Budget returns budget name as stored, or nil.
func (w *World) Budget(name string) *armconsumption.Budget {
	w.mu.Lock()
	defer w.mu.Unlock()
	if b := w.budgets[strings.ToLower(name)]; b != nil {
		return clone(b.b)
	}
	return nil
}

// AddBudget stores a budget that dhub did not make (a test's), as it is.
func (w *World) AddBudget(name string, b armconsumption.Budget) {
	w.mu.Lock()
	defer w.mu.Unlock()
	b.Name, b.ID = to.Ptr(name), to.Ptr(budgetID(name))
	w.budgets[strings.ToLower(name)] = &budget{b: clone(&b), etag: 1}
}

func budgetID(name string) string {
	return "/subscriptions/" + Subscription + "/providers/Microsoft.Consumption/budgets/" + name
}

// refuseBudgetCall answers a budget call for a scope this World does not
// serve, or of a subscription whose offer type Cost Management refuses,
// with Azure's error, and reports whether it did.
func (w *World) refuseBudgetCall(e *azfake.ErrorResponder, scope string) bool {
	switch {
	case !strings.EqualFold(strings.Trim(scope, "/"), "subscriptions/"+Subscription):
		w.refuse(e, http.StatusNotFound, "SubscriptionNotFound", fmt.Sprintf("The subscription in scope '%s' could not be found.", scope))
	case w.budgetOffer != "":
		w.refuse(e, http.StatusBadRequest, "400", fmt.Sprintf("Cost Management supports only Enterprise Agreement, Web direct and Microsoft Customer Agreement offer types. offerId: %s is associated with offerType: None (Request ID: 8d354889-ee54-46e8-a50f-7f2f80331b4a)", w.budgetOffer))
	default:
		return false
	}
	return true
}

func (w *World) getBudget(_ context.Context, scope, name string, _ *armconsumption.BudgetsClientGetOptions) (resp azfake.Responder[armconsumption.BudgetsClientGetResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.refuseBudgetCall(&errResp, scope) {
		return
	}
	b := w.budgets[strings.ToLower(name)]
	if b == nil {
		w.refuse(&errResp, http.StatusNotFound, "NotFound", fmt.Sprintf("Budget '%s' not found.", name))
		return
	}
	resp.SetResponse(http.StatusOK, armconsumption.BudgetsClientGetResponse{Budget: *b.view()}, nil)
	return
}

// view is the budget as a GET shows it: with its eTag and, when the
// month has cost something, its current and forecast spend.
func (b *budget) view() *armconsumption.Budget {
	v := clone(b.b)
	v.ETag = to.Ptr(fmt.Sprintf(`"%x"`, b.etag))
	if b.spent != nil {
		v.Properties.CurrentSpend = &armconsumption.CurrentSpend{Amount: b.spent, Unit: to.Ptr(b.unit)}
		v.Properties.ForecastSpend = &armconsumption.ForecastSpend{Amount: b.forecast, Unit: to.Ptr(b.unit)}
	}
	return v
}

func (w *World) putBudget(_ context.Context, scope, name string, in armconsumption.Budget, _ *armconsumption.BudgetsClientCreateOrUpdateOptions) (resp azfake.Responder[armconsumption.BudgetsClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.refuseBudgetCall(&errResp, scope) {
		return
	}
	old := w.budgets[strings.ToLower(name)]
	if msg := budgetRules(name, &in, old, w.now()); msg != "" {
		w.refuse(&errResp, http.StatusBadRequest, "400", msg)
		return
	}
	if old != nil && in.ETag != nil && *in.ETag != *old.view().ETag {
		w.refuse(&errResp, http.StatusPreconditionFailed, "PreconditionFailed", fmt.Sprintf("The eTag %s of budget '%s' is not its current eTag %s: read it again and retry.", *in.ETag, name, *old.view().ETag))
		return
	}
	b := clone(&in)
	b.ETag, b.Name, b.ID, b.Type = nil, to.Ptr(name), to.Ptr(budgetID(name)), to.Ptr("Microsoft.Consumption/budgets")
	p := b.Properties
	p.CurrentSpend, p.ForecastSpend = nil, nil
	if p.TimePeriod.EndDate == nil {
		p.TimePeriod.EndDate = to.Ptr(p.TimePeriod.StartDate.AddDate(10, 0, 0))
	}
	for _, n := range p.Notifications {
		if n.ThresholdType == nil {
			n.ThresholdType = to.Ptr(armconsumption.ThresholdTypeActual)
		}
	}
	status := http.StatusCreated
	stored := &budget{b: b, etag: 1}
	if old != nil {
		status = http.StatusOK
		stored.etag, stored.spent, stored.forecast, stored.unit = old.etag+1, old.spent, old.forecast, old.unit
	}
	w.budgets[strings.ToLower(name)] = stored
	resp.SetResponse(status, armconsumption.BudgetsClientCreateOrUpdateResponse{Budget: *stored.view()}, nil)
	return
}

func (w *World) deleteBudget(_ context.Context, scope, name string, _ *armconsumption.BudgetsClientDeleteOptions) (resp azfake.Responder[armconsumption.BudgetsClientDeleteResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.refuseBudgetCall(&errResp, scope) {
		return
	}
	if w.budgets[strings.ToLower(name)] == nil {
		w.refuse(&errResp, http.StatusNotFound, "NotFound", fmt.Sprintf("Budget '%s' not found.", name))
		return
	}
	delete(w.budgets, strings.ToLower(name))
	resp.SetResponse(http.StatusOK, armconsumption.BudgetsClientDeleteResponse{}, nil)
	return
}

// budgetRules returns why the Budgets API refuses budget in (old is the
// stored one, nil for a create), or "".
func budgetRules(name string, in *armconsumption.Budget, old *budget, now time.Time) string {
	if !budgetNameRE.MatchString(name) {
		return fmt.Sprintf("Budget name '%s' is invalid: use 1 to 63 letters, digits, '-' and '_'.", name)
	}
	p := in.Properties
	if p == nil {
		return "The budget's properties are required."
	}
	if p.Amount == nil || *p.Amount <= 0 {
		return "Budget amount must be greater than 0."
	}
	switch cat := deref(p.Category); cat {
	case armconsumption.CategoryTypeCost:
	case "":
		return "Budget category is required."
	default:
		return fmt.Sprintf("Budget category '%s' is not supported: use Cost.", cat)
	}
	grain := deref(p.TimeGrain)
	switch grain {
	case armconsumption.TimeGrainTypeMonthly, armconsumption.TimeGrainTypeQuarterly, armconsumption.TimeGrainTypeAnnually:
	case armconsumption.TimeGrainTypeBillingMonth, armconsumption.TimeGrainTypeBillingQuarter, armconsumption.TimeGrainTypeBillingAnnual:
		return fmt.Sprintf("Time grain '%s' is only supported for Web Direct customers.", grain)
	default:
		return "Budget time grain is required: Monthly, Quarterly or Annually."
	}
	if p.TimePeriod == nil || p.TimePeriod.StartDate == nil {
		return "Budget time period start date is required."
	}
	start := p.TimePeriod.StartDate.UTC()
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	switch {
	case old != nil && !start.Equal(old.b.Properties.TimePeriod.StartDate.UTC()):
		return "Start date of budgets cannot be updated. Please delete and create a new budget."
	case start.Day() != 1 || start.Hour() != 0 || start.Minute() != 0 || start.Second() != 0:
		return fmt.Sprintf("Budget start date %s must be the first day of a month.", start.Format(time.RFC3339))
	case start.Before(time.Date(2017, 6, 1, 0, 0, 0, 0, time.UTC)):
		return "Budget start date must be on or after June 1, 2017."
	case old == nil && grain == armconsumption.TimeGrainTypeMonthly && start.Before(month):
		return fmt.Sprintf("Budget start date %s for the Monthly time grain must not be before the current month.", start.Format(time.DateOnly))
	case start.After(month.AddDate(1, 0, 0)):
		return fmt.Sprintf("Budget start date %s must not be more than twelve months in the future.", start.Format(time.DateOnly))
	case p.TimePeriod.EndDate != nil && !p.TimePeriod.EndDate.After(start):
		return "Budget end date must be after its start date."
	}
	if len(p.Notifications) > 5 {
		return fmt.Sprintf("A budget can have up to five notifications; %d were sent.", len(p.Notifications))
	}
	for key, n := range p.Notifications {
		if n == nil {
			return fmt.Sprintf("Notification '%s' is empty.", key)
		}
		switch {
		case n.Enabled == nil:
			return fmt.Sprintf("Notification '%s': enabled is required.", key)
		case !slices.Contains(armconsumption.PossibleOperatorTypeValues(), deref(n.Operator)):
			return fmt.Sprintf("Notification '%s': operator '%s' is not one of EqualTo, GreaterThan, GreaterThanOrEqualTo.", key, deref(n.Operator))
		case n.Threshold == nil || *n.Threshold <= 0 || *n.Threshold > 1000:
			return fmt.Sprintf("Notification '%s': the threshold is a percentage and has to be between 0 and 1000.", key)
		case n.ThresholdType != nil && !slices.Contains(armconsumption.PossibleThresholdTypeValues(), *n.ThresholdType):
			return fmt.Sprintf("Notification '%s': threshold type '%s' is not one of Actual, Forecasted.", key, *n.ThresholdType)
		case len(n.ContactEmails) == 0 && len(n.ContactGroups) == 0:
			return fmt.Sprintf("Notification '%s': at least one contact email or contact group is required at the subscription scope.", key)
		}
	}
	if f := p.Filter; f != nil {
		if f.And != nil && len(f.And) < 2 {
			return "A budget filter's 'and' expression must have at least 2 items."
		}
		exprs := []*armconsumption.BudgetComparisonExpression{f.Dimensions}
		for _, a := range f.And {
			exprs = append(exprs, a.Dimensions)
		}
		for _, d := range exprs {
			if d == nil {
				continue
			}
			switch {
			case !slices.ContainsFunc(budgetDimensions, func(s string) bool { return strings.EqualFold(s, deref(d.Name)) }):
				return fmt.Sprintf("Budget filter dimension '%s' is not supported.", deref(d.Name))
			case deref(d.Operator) != armconsumption.BudgetOperatorTypeIn:
				return fmt.Sprintf("Budget filter operator '%s' is not supported: use In.", deref(d.Operator))
			case len(d.Values) == 0:
				return fmt.Sprintf("Budget filter dimension '%s' needs at least one value.", deref(d.Name))
			}
		}
	}
	return ""
}
