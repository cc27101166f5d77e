package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/pricing"
)

// The pricing errors that the shared error table does not know yet (stale writes and
// unknown tiers map through curhat.ErrStaleWrite and curhat.ErrNotFound already).

// pricingAPI serves the pricing routes.
type pricingAPI struct {
	ps    *pricing.PricingStore
	audit func(r *http.Request, c caller, action, targetKind, targetID string, before, after any)
}

func (s *Server) pricingRoutes() {
	api := &pricingAPI{ps: s.app.pricing, audit: s.audit}
	const base = "/api/internal/pricing"
	s.handle("GET", base+"/tiers", roleViewer, api.listTiers)
	s.handle("POST", base+"/tiers", roleAdmin, api.createTier)
	s.handle("POST", base+"/tiers/reorder", roleAdmin, api.reorderTiers)
	s.handle("PATCH", base+"/tiers/{id}", roleAdmin, api.updateTier)
	s.handle("POST", base+"/tiers/{id}/deactivate", roleAdmin, api.deactivateTier)
	s.handle("POST", base+"/tiers/{id}/reactivate", roleAdmin, api.reactivateTier)
	s.handle("GET", base+"/tiers/{id}/history", roleViewer, api.tierHistory)
	s.handle("GET", base+"/promotions/first-session", roleViewer, api.getFirstSession)
	s.handle("PUT", base+"/promotions/first-session", roleAdmin, api.putFirstSession)
	s.handle("GET", base+"/promotions/first-session/history", roleViewer, api.firstSessionHistory)
	s.handle("GET", "/api/client/chat/pricing", roleClient, api.clientPricing)
}

// parseToken reads an expected_updated_at (RFC 3339) given as a JSON string.
func parseToken(field string, s *string) (time.Time, error) {
	if s == nil || *s == "" {
		return time.Time{}, curhat.Invalid(field, "is required (the updated_at last read)")
	}
	return parseTime(field, *s)
}

func (api *pricingAPI) listTiers(w http.ResponseWriter, r *http.Request, _ caller) error {
	q := r.URL.Query()
	params := pricing.ListTiersParams{Mode: pricing.Mode(q.Get("mode"))}
	if v := q.Get("include_inactive"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return curhat.Invalid("include_inactive", "must be true or false")
		}
		params.IncludeInactive = b
	}
	tiers, err := api.ps.ListTiers(r.Context(), params)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"tiers": toTiersJSON(tiers)})
	return nil
}

func (api *pricingAPI) createTier(w http.ResponseWriter, r *http.Request, c caller) error {
	var body struct {
		Mode    string `json:"mode"`
		Minutes *int   `json:"minutes"`
		Price   *int64 `json:"price"`
		Label   string `json:"label"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	switch {
	case body.Minutes == nil:
		return curhat.Invalid("minutes", "is required")
	case body.Price == nil:
		return curhat.Invalid("price", "is required")
	}
	tier, err := api.ps.CreateTier(r.Context(), pricing.CreateTierParams{
		Mode: pricing.Mode(body.Mode), Minutes: *body.Minutes, Price: *body.Price, Label: body.Label, ChangedBy: c.changedBy(),
	})
	if err != nil {
		return err
	}
	api.audit(r, c, "pricing.tier.create", "pricing_tier", tier.ID.String(), nil, tierJSON(tier))
	writeJSON(w, http.StatusCreated, tierJSON(tier))
	return nil
}

func (api *pricingAPI) updateTier(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var body struct {
		ExpectedUpdatedAt *string `json:"expected_updated_at"`
		Price             *int64  `json:"price"`
		Label             *string `json:"label"`
		// Accepted only to be refused with a clear reason: they are the tier's natural key.
		Mode    *pricing.Mode `json:"mode"`
		Minutes *int          `json:"minutes"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	expected, err := parseToken("expected_updated_at", body.ExpectedUpdatedAt)
	if err != nil {
		return err
	}
	before, err := api.ps.GetTier(r.Context(), id)
	if err != nil {
		return err
	}
	tier, err := api.ps.UpdateTier(r.Context(), pricing.UpdateTierParams{
		ID: id, ExpectedUpdatedAt: expected, Price: body.Price, Label: body.Label,
		Mode: body.Mode, Minutes: body.Minutes, ChangedBy: c.changedBy(),
	})
	if err != nil {
		return err
	}
	api.audit(r, c, "pricing.tier.update", "pricing_tier", id.String(), tierJSON(before), tierJSON(tier))
	writeJSON(w, http.StatusOK, tierJSON(tier))
	return nil
}

func (api *pricingAPI) deactivateTier(w http.ResponseWriter, r *http.Request, c caller) error {
	return api.setActive(w, r, c, "pricing.tier.deactivate", api.ps.DeactivateTier)
}

func (api *pricingAPI) reactivateTier(w http.ResponseWriter, r *http.Request, c caller) error {
	return api.setActive(w, r, c, "pricing.tier.reactivate", api.ps.ReactivateTier)
}

func (api *pricingAPI) setActive(w http.ResponseWriter, r *http.Request, c caller, action string,
	op func(ctx context.Context, id uuid.UUID, expected time.Time, by string) (pricing.Tier, error)) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var body struct {
		ExpectedUpdatedAt *string `json:"expected_updated_at"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	expected, err := parseToken("expected_updated_at", body.ExpectedUpdatedAt)
	if err != nil {
		return err
	}
	before, err := api.ps.GetTier(r.Context(), id)
	if err != nil {
		return err
	}
	tier, err := op(r.Context(), id, expected, c.changedBy())
	if err != nil {
		return err
	}
	api.audit(r, c, action, "pricing_tier", id.String(), tierJSON(before), tierJSON(tier))
	writeJSON(w, http.StatusOK, tierJSON(tier))
	return nil
}

func (api *pricingAPI) reorderTiers(w http.ResponseWriter, r *http.Request, c caller) error {
	var body struct {
		Mode  string `json:"mode"`
		Tiers []struct {
			ID                string  `json:"id"`
			ExpectedUpdatedAt *string `json:"expected_updated_at"`
		} `json:"tiers"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	items := make([]pricing.ReorderItem, len(body.Tiers))
	for i, it := range body.Tiers {
		id, err := bodyID(fmt.Sprintf("tiers[%d].id", i), it.ID)
		if err != nil {
			return err
		}
		expected, err := parseToken(fmt.Sprintf("tiers[%d].expected_updated_at", i), it.ExpectedUpdatedAt)
		if err != nil {
			return err
		}
		items[i] = pricing.ReorderItem{ID: id, ExpectedUpdatedAt: expected}
	}
	before, err := api.ps.ListTiers(r.Context(), pricing.ListTiersParams{Mode: pricing.Mode(body.Mode), IncludeInactive: true})
	if err != nil {
		return err
	}
	tiers, err := api.ps.ReorderTiers(r.Context(), pricing.ReorderParams{
		Mode: pricing.Mode(body.Mode), Tiers: items, ChangedBy: c.changedBy(),
	})
	if err != nil {
		return err
	}
	api.audit(r, c, "pricing.tier.reorder", "pricing_mode", body.Mode, tierOrder(before), tierOrder(tiers))
	writeJSON(w, http.StatusOK, map[string]any{"tiers": toTiersJSON(tiers)})
	return nil
}

func (api *pricingAPI) tierHistory(w http.ResponseWriter, r *http.Request, _ caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	entries, err := api.ps.TierHistory(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": toHistoryJSON(entries)})
	return nil
}

func (api *pricingAPI) getFirstSession(w http.ResponseWriter, r *http.Request, _ caller) error {
	pr, err := api.ps.GetFirstSessionDiscount(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, promotionJSON(pr))
	return nil
}

func (api *pricingAPI) putFirstSession(w http.ResponseWriter, r *http.Request, c caller) error {
	var body struct {
		ExpectedUpdatedAt *string `json:"expected_updated_at"`
		Enabled           *bool   `json:"enabled"`
		DiscountPercent   *int    `json:"discount_percent"`
		MaxDiscountAmount *int64  `json:"max_discount_amount"` // null or absent: no cap
		EligibleMinutes   []int   `json:"eligible_minutes"`    // empty or absent: every session tier
		Label             string  `json:"label"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	var expected time.Time
	if body.ExpectedUpdatedAt != nil { // absent only when creating a missing row
		var err error
		if expected, err = parseToken("expected_updated_at", body.ExpectedUpdatedAt); err != nil {
			return err
		}
	}
	switch {
	case body.Enabled == nil:
		return curhat.Invalid("enabled", "is required")
	case body.DiscountPercent == nil:
		return curhat.Invalid("discount_percent", "is required")
	}
	var before any
	if cur, err := api.ps.GetFirstSessionDiscount(r.Context()); err == nil {
		before = promotionJSON(cur)
	}
	pr, err := api.ps.UpdateFirstSessionDiscount(r.Context(), pricing.UpdatePromotionParams{
		ExpectedUpdatedAt: expected, Enabled: *body.Enabled, DiscountPercent: *body.DiscountPercent,
		MaxDiscountAmount: body.MaxDiscountAmount, EligibleMinutes: body.EligibleMinutes, Label: body.Label,
		ChangedBy: c.changedBy(),
	})
	if err != nil {
		return err
	}
	api.audit(r, c, "pricing.promotion.update", "promotion", pr.ID.String(), before, promotionJSON(pr))
	writeJSON(w, http.StatusOK, promotionJSON(pr))
	return nil
}

// tierOrder is a mode's tiers in their order, as a reorder's audit row shows them.
func tierOrder(tiers []pricing.Tier) map[string]any {
	ids := make([]uuid.UUID, 0, len(tiers))
	for _, t := range tiers {
		ids = append(ids, t.ID)
	}
	return map[string]any{"order": ids}
}

func (api *pricingAPI) firstSessionHistory(w http.ResponseWriter, r *http.Request, _ caller) error {
	entries, err := api.ps.PromotionHistory(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": toHistoryJSON(entries)})
	return nil
}

// Client shapes of GET /api/client/chat/pricing.
type (
	clientSessionTierJSON struct {
		ID      uuid.UUID `json:"id"`
		Minutes int       `json:"minutes"`
		Price   int64     `json:"price"`
		// DiscountedPrice is what this client pays with the first-session discount; null
		// when no discount applies to this client and tier.
		DiscountedPrice *int64 `json:"discounted_price"`
		Label           string `json:"label"`
	}
	clientExtensionTierJSON struct {
		ID      uuid.UUID `json:"id"`
		Minutes int       `json:"minutes"`
		Price   int64     `json:"price"`
		Label   string    `json:"label"`
	}
	clientDiscountJSON struct {
		Eligible          bool   `json:"eligible"`
		DiscountPercent   int    `json:"discount_percent"`
		MaxDiscountAmount *int64 `json:"max_discount_amount"`
		Label             string `json:"label"`
	}
)

func (api *pricingAPI) clientPricing(w http.ResponseWriter, r *http.Request, c caller) error {
	cat, err := api.ps.Catalog(r.Context(), c.ID)
	if err != nil {
		return err
	}
	sessions := make([]clientSessionTierJSON, len(cat.SessionTiers))
	for i, t := range cat.SessionTiers {
		sessions[i] = clientSessionTierJSON{ID: t.ID, Minutes: t.Minutes, Price: t.Price, DiscountedPrice: t.DiscountedPrice, Label: t.Label}
	}
	extensions := make([]clientExtensionTierJSON, len(cat.ExtensionTiers))
	for i, t := range cat.ExtensionTiers {
		extensions[i] = clientExtensionTierJSON{ID: t.ID, Minutes: t.Minutes, Price: t.Price, Label: t.Label}
	}
	promo := cat.FirstSessionDiscount
	writeJSON(w, http.StatusOK, map[string]any{
		"currency":        cat.Currency,
		"session_tiers":   sessions,
		"extension_tiers": extensions,
		"first_session_discount": clientDiscountJSON{
			Eligible: cat.Eligible, DiscountPercent: promo.DiscountPercent,
			MaxDiscountAmount: promo.MaxDiscountAmount, Label: promo.Label,
		},
	})
	return nil
}
