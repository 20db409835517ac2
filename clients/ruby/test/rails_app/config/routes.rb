# config/routes.rb -- a page that renders herald_meta_tags, and an action that notifies.
Rails.application.routes.draw do
  root to: "pages#show"
  post "/bids", to: "bids#create"
end
