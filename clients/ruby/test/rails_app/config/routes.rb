# config/routes.rb -- a page that renders herald_meta_tags, an action that notifies, and the live tests' status calls.
Rails.application.routes.draw do
  root to: "pages#show"
  post "/bids", to: "bids#create"
  post "/herald/flush", to: "herald_status#flush"
  get "/herald/online", to: "herald_status#online"
end
